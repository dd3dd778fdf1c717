"""The plugin lab: an out-of-tree platform plugin read (never run), met with the contract, and started anew."""
