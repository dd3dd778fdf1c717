"""Study instruments that answer the chapter's questions from the tree: usages, the contract, how plugins load."""
