"""Stage preprocess: read <data.dir>/train and /test (and, where they exist, test_clean: clean
references of real noisy test images, and train_b: second noisy acquisitions of the train
images), write grayscale arrays and a manifest."""

import argparse
import logging
import time
from pathlib import Path

from denoising.errors import UserError, run_stage
from denoising.files import atomic_dir, save_json
from denoising.folders import (
    check_disk_space,
    check_partners,
    count_files,
    cpu_count,
    mapper,
    readers,
    write_split,
)
from denoising.layout import REFERENCES, SECOND
from denoising.params import DataParams, load_section, load_seed

log = logging.getLogger("preprocess")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    params = load_section(args.params, "data", DataParams)
    seed = load_seed(args.params)

    root = Path(params.dir)
    if not root.is_dir():
        raise UserError(
            f"data.dir: folder '{root}' not found; it must be a folder holding train/ and test/"
        )
    # A first walk counts the files, to size the arrays; the reading walks the folders again,
    # rather than keep a list of millions of names in memory.
    extra = {"references": (root / REFERENCES).is_dir(), "pairs": (root / SECOND).is_dir()}
    split_readers = readers(params, seed, **extra)
    counts = {split: count_files(root / split) for split in split_readers}
    check_disk_space(args.out_dir, split_readers, counts)
    workers = params.workers or cpu_count()
    manifest = {"data_dir": str(root), "mode": params.mode}
    started = time.perf_counter()
    # One pool of workers for both splits: starting one costs as much as reading many images.
    with atomic_dir(args.out_dir) as out_dir, mapper(workers) as imap:
        for split in split_readers:
            report = write_split(
                root / split,
                counts[split],
                split_readers[split],
                out_dir / f"{split}.npy",
                out_dir / f"{split}_files.jsonl",
                params.on_error,
                imap,
            )
            manifest[split] = {
                "count": report.files,
                "rows": report.rows,
                "image_shape": list(split_readers[split].shape),
                "files": f"{split}_files.jsonl",
                "files_sha256": report.files_sha256,
                "skipped": report.skipped,
            }
            log.info(
                "%s: %d images read into %d rows, %d files skipped",
                split,
                report.files,
                report.rows,
                len(report.skipped),
            )
        for split, partner in (("test", REFERENCES), ("train", SECOND)):
            if partner in split_readers:
                check_partners(root, out_dir, split, partner)
        save_json(out_dir / "manifest.json", manifest)
    # Logged, not saved: a duration in an output file would break byte-identical reruns.
    files = sum(count.files for count in counts.values())
    log.info(
        "read %d files in %.2f s on %d workers", files, time.perf_counter() - started, workers
    )


if __name__ == "__main__":
    run_stage(main)
