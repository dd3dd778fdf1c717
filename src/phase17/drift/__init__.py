"""Drift: each anchor's verdict against the current tree (the records, the check), suggestions, mends, the re-pin."""
