"""``python -m zoo.train MODEL [options]`` (see ``zoo/cli.py``)."""

import sys

from zoo.cli import main

if __name__ == "__main__":
    sys.exit(main())
