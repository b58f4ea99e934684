"""Run a stage's main() the same way everywhere: logging set up once, user errors in one line."""

import logging
import sys
from collections.abc import Callable

from denoising.errors import UserError


def run_stage(main: Callable[[], None]) -> None:
    """Call ``main``; turn a ``UserError`` into ``error: ...`` lines on stderr and exit code 2."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        main()
    except UserError as error:
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
        sys.exit(2)
