"""``python -m cxrinit.inference``: see :mod:`cxrinit.inference.cli`."""

import sys

from cxrinit.inference.cli import main

if __name__ == "__main__":
    sys.exit(main())
