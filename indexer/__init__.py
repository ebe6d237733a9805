"""Indexing and search of transcribed pages, in four rooms; it imports only itself and `htr`.

- `indexer.store`: the database (the only SQLAlchemy and Alembic code), read and written
  through `indexer.store.repository.Repository`;
- `indexer.spelling`: pure search keys of diplomatic text (tokens, abbreviations, variants);
- `indexer.search`: finding lines by word and by meaning (the only faiss and
  sentence-transformers code);
- `indexer.transfer`: pages in and out (ingest, import, export, training lines).
"""
