"""Pages in and out of the database: ingest, import of PAGE/ALTO, exports, training lines."""
