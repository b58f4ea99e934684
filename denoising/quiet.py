"""Start TensorFlow without its start-up chatter, so that a `dvc repro` log shows only lines
that mean something.

TF_CPP_MIN_LOG_LEVEL (set in ``denoising/__init__.py``) quiets TensorFlow's own logging, but its
C++ libraries print lines while they load, before that setting is read: "All log messages before
absl::InitializeLog() is called are written to STDERR", "oneDNN custom operations are on" and,
on every CPU machine, "Could not find cuda drivers". Those go to file descriptor 2, which is
pointed at /dev/null for the import only. A failing import still raises, and its Python
traceback shows as usual, since the descriptor is restored first.
"""

import os
import sys


def load_tensorflow() -> None:
    """Import TensorFlow (once per process) with the process's stderr silenced meanwhile."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
