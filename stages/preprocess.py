"""Stage preprocess: read <data.dir>/train and /test, write grayscale arrays and a manifest."""

import argparse
import logging
import shutil
from pathlib import Path

from denoising.cli import run_stage
from denoising.errors import UserError
from denoising.files import SPLITS, atomic_dir, save_array, save_json
from denoising.images import find_files, load_folder
from denoising.params import DataParams, load_section

log = logging.getLogger("preprocess")


def check_disk_space(out_dir: Path, n_images: int, shape: tuple[int, int]) -> None:
    """Fail before decoding anything if the arrays (float32) cannot fit on the output's disk."""
    needed = n_images * shape[0] * shape[1] * 4
    existing = next(folder for folder in [out_dir, *out_dir.parents] if folder.exists())
    free = shutil.disk_usage(existing).free
    if needed > free:
        raise UserError(
            f"{out_dir}: the arrays need about {needed / 1e9:.2f} GB for {n_images} images at "
            f"data.image_size {list(shape)}, and only {free / 1e9:.2f} GB is free"
        )


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
    # One walk of each folder serves both the size estimate and the loading.
    paths = {split: find_files(root / split) for split in SPLITS}
    check_disk_space(args.out_dir, sum(map(len, paths.values())), params.shape)
    manifest = {"data_dir": str(root), "image_shape": list(params.shape)}
    with atomic_dir(args.out_dir) as out_dir:
        for split in SPLITS:
            loaded = load_folder(
                root / split, params.shape, params.on_error, params.max_pixels, paths[split]
            )
            save_array(out_dir / f"{split}.npy", loaded.images)
            manifest[split] = {
                "count": len(loaded.files),
                "files": loaded.files,
                "skipped": loaded.skipped,
            }
            log.info(
                "%s: %d images read, %d files skipped",
                split,
                len(loaded.files),
                len(loaded.skipped),
            )
        save_json(out_dir / "manifest.json", manifest)


if __name__ == "__main__":
    run_stage(main)
