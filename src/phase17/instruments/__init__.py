"""Instruments that answer the chapter's questions from the tree: usages, contract, gates, effects, callers, plugins."""
