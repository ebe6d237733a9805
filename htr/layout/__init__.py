"""PAGE XML and ALTO layout files: `files` finds and reads them via `alto`, `pagexml`, `common`."""
