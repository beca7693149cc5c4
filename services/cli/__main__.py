"""``python -m services.cli``: the ``dmdt`` command."""

import sys

from services.cli.main import main

sys.exit(main())
