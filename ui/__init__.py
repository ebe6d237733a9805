"""legajo ui package (built by its own issue)."""
