"""The JSON API under ``/api``: search, collections, pages, lines, corrections, exports."""
