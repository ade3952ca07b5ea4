"""``python -m minnet``: the command line (so ``torchrun -m minnet train ... --distributed`` works)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
