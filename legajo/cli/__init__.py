"""The `legajo` command line: `main` lists every command, one module per command family."""
