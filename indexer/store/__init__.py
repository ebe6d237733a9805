"""The database: the only SQLAlchemy and Alembic code; the rest goes through `Repository`."""
