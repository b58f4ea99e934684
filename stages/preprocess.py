"""Stage preprocess: read <data.dir>/train and /test (and, where they exist, test_clean: clean
references of real noisy test images; train_b: second noisy acquisitions of the train images;
train_clean: their clean references), write grey (or, with data.color rgb, R, G, B) arrays and
a manifest."""

import argparse
import logging
import time
from pathlib import Path

from denoising.errors import run_stage
from denoising.files import atomic_dir, save_json
from denoising.folders import (
    check_disk_space,
    check_partners,
    count_files,
    cpu_count,
    data_root,
    mapper,
    readers,
    write_split,
)
from denoising.layout import PARTNERS
from denoising.params import DataParams, load_section, load_seed

log = logging.getLogger("preprocess")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    params = load_section(args.params, "data", DataParams)
    seed = load_seed(args.params)

    root = data_root(params)
    # A first walk counts the files, to size the arrays; the reading walks the folders again,
    # rather than keep a list of millions of names in memory.
    partners = tuple(name for name in PARTNERS if (root / name).is_dir())
    split_readers = readers(params, seed, partners)
    counts = {split: count_files(root / split) for split in split_readers}
    check_disk_space(args.out_dir, split_readers, counts)
    workers = params.workers or cpu_count()
    manifest = {"data_dir": str(root), "mode": params.mode}
    if params.channels > 1:  # Grey manifests stay as the original design wrote them.
        manifest |= {"color": params.color, "channels": params.channels}
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
            manifest[split] = report.manifest_entry(split, split_readers[split].shape)
            counted = (report.files, report.rows, len(report.skipped))
            log.info("%s: %d images read into %d rows, %d files skipped", split, *counted)
        for partner in partners:
            check_partners(root, out_dir, PARTNERS[partner], partner)
        save_json(out_dir / "manifest.json", manifest)
    # Logged, not saved: a duration in an output file would break byte-identical reruns.
    files, seconds = sum(count.files for count in counts.values()), time.perf_counter() - started
    log.info("read %d files in %.2f s on %d workers", files, seconds, workers)


if __name__ == "__main__":
    run_stage(main)
