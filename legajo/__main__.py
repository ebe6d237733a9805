"""``python -m legajo``: the `legajo` command line."""

import sys

from legajo.cli.main import main

sys.exit(main())
