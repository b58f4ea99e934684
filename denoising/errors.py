"""The one error type that a user can fix (bad params, a missing folder, an unreadable file),
and how every entry point reports it: one line per problem, no traceback, exit code 2."""

import errno
import logging
import sys
from collections.abc import Callable


class UserError(Exception):
    """A problem in the user's params or data, reported as one line per problem, no traceback."""


# A full disk (or quota) is the user's to fix; the atomic writers have removed their temporaries.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def run_stage(main: Callable[[], None]) -> None:
    """Call ``main``; turn a ``UserError`` into ``error: ...`` lines on stderr and exit code 2,
    and so a full disk, which is named with the file being written."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        main()
    except UserError as error:
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
        sys.exit(2)
    except OSError as error:
        if error.errno not in DISK_FULL:
            raise
        where = f"{error.filename}: " if error.filename else ""
        print(
            f"error: {where}no space left on the disk ({error.strerror}); the file being "
            "written was removed, nothing half-written is kept; free some space and run again",
            file=sys.stderr,
        )
        sys.exit(2)
