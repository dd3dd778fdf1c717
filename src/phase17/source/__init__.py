"""Python files of an upstream tree: read with guards, parsed with tree-sitter, named as definitions and references."""
