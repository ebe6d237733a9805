"""Finding lines: query syntax, word and meaning search, and the FAISS index files behind it."""
