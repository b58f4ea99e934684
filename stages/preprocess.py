"""Stage preprocess: read <data.dir>/train and /test, write grayscale arrays and a manifest."""

import argparse
import logging
from pathlib import Path

from denoising.cli import run_stage
from denoising.errors import UserError
from denoising.files import SPLITS, save_array, save_json
from denoising.images import load_folder
from denoising.params import DataParams, load_section

log = logging.getLogger("preprocess")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out-dir", type=Path, required=True)
    args = parser.parse_args()
    params = load_section(args.params, "data", DataParams)

    root = Path(params.dir)
    if not root.is_dir():
        raise UserError(
            f"data.dir: folder '{root}' not found; it must be a folder holding train/ and test/"
        )
    manifest = {"data_dir": str(root), "image_shape": list(params.shape)}
    for split in SPLITS:
        loaded = load_folder(root / split, params.shape)
        save_array(args.out_dir / f"{split}.npy", loaded.images)
        manifest[split] = {
            "count": len(loaded.files),
            "files": loaded.files,
            "skipped": loaded.skipped,
        }
        log.info(
            "%s: %d images read, %d files skipped", split, len(loaded.files), len(loaded.skipped)
        )
    save_json(args.out_dir / "manifest.json", manifest)


if __name__ == "__main__":
    run_stage(main)
