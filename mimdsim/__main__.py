"""``python -m mimdsim``: the same command line as the ``mimdsim`` console script."""

from mimdsim.cli import main

raise SystemExit(main())
