"""`python -m cnnablate ...`: the `cnnablate` command."""

import sys

from cnnablate.cli import main

sys.exit(main())
