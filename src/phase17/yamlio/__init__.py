"""YAML in and out: strict loading with the line of every key, round-trip writing that keeps comments, the schema."""
