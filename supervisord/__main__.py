"""``python -m supervisord``: the same entry point as the ``supervisord`` script."""

import sys

from supervisord.cli import main

sys.exit(main())
