"""legajo indexer package (built by its own issue)."""
