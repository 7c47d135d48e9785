"""``python -m mimdsim``: the same command line as the ``mimdsim`` console script."""

from mimdsim.cli import run

run()
