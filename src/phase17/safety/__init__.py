"""Guards on what phase17 reads, writes and shows: files never followed out of their root, text shown inert."""
