"""``python -m jacobians``: the same as the ``jacobians`` command."""

import sys

from .cli import main

sys.exit(main())
