"""`python -m liminal_jupyter` is `liminal-nb`, for launchers that must use this interpreter."""

import sys

from liminal_jupyter.cli import main

sys.exit(main())
