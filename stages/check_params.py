"""Stage check_params: validate the whole params.yaml before anything else runs.

A stage validates only its own sections, and only when DVC reruns it, so a typo such as
``epoch: 30`` beside ``epochs`` would leave ``dvc repro`` "up to date". This first stage depends
on the whole file: any edit reruns it, a bad key fails here in one line, and when the params are
valid it writes the same bytes, so nothing downstream reruns because of it. It also removes the
temporaries that killed stages left under the output folders.
"""

import argparse
import logging
from pathlib import Path

from denoising.errors import run_stage
from denoising.files import atomic_path, remove_stale_temporaries
from denoising.params import validate_params

log = logging.getLogger("check_params")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clean", type=Path, nargs="*", default=[], help="output folders")
    args = parser.parse_args(argv)
    validate_params(args.params)
    for stale in remove_stale_temporaries(args.clean):
        log.info("removed %s, left by an interrupted stage", stale)
    with atomic_path(args.out) as temporary:
        temporary.write_text(f"{args.params}: valid\n")


if __name__ == "__main__":
    run_stage(main)
