"""Stage add_noise: noisy copies of the train and test arrays at one noise level (with real
noise, the images as they are)."""

import argparse
import logging
from pathlib import Path

from denoising.errors import run_stage
from denoising.files import atomic_dir
from denoising.names import REAL, SPLITS, level_name, parse_level
from denoising.params import NoiseParams, load_section, load_seed
from denoising.rows import RowFile, RowWriter
from denoising.train.noise import add_noise, noise_rng

log = logging.getLogger("add_noise")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--level", type=parse_level, required=True)
    parser.add_argument("--clean-dir", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    params = load_section(args.params, "noise", NoiseParams)
    seed = load_seed(args.params)

    with atomic_dir(args.out_dir) as out_dir:
        for number, split in enumerate(SPLITS):
            clean = RowFile(args.clean_dir / f"{split}.npy")
            # One generator per split, drawn from chunk after chunk: for Gaussian noise the
            # result is the same as drawing for the whole array at once.
            rng = None if params.type == REAL else noise_rng(seed, args.level, number)
            writer = RowWriter(out_dir / f"{split}.npy", len(clean), clean.shape[1:])
            for rows in clean.chunks():
                if params.type == REAL:  # Noisy already: nothing is added.
                    writer.write(clean[rows])
                else:
                    writer.write(add_noise(clean[rows], params.type, args.level, rng, params.clip))
            writer.close()
    level = level_name(args.level)
    log.info("%s noise at level %s added to %s", params.type, level, ", ".join(SPLITS))


if __name__ == "__main__":
    run_stage(main)
