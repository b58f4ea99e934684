"""Stage summarize: PSNR and SSIM against noise level for every method, one row per (level,
method), as plot data; and the metrics that dvc metrics show lists, a small file per method."""

import argparse
import csv
import io
import logging
from pathlib import Path

from denoising.errors import UserError, run_stage
from denoising.files import atomic_dir, atomic_path, load_json, save_json
from denoising.params import NoiseParams, load_section
from denoising.score.metrics import summary

COLUMNS = ("noise_level", "method", "psnr", "ssim")
log = logging.getLogger("summarize")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--compare-dir", type=Path, required=True)
    parser.add_argument("--plot-out", type=Path, required=True)
    parser.add_argument("--summary-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    noise = load_section(args.params, "noise", NoiseParams)

    # Read the levels named in params, not every file in the folder: a level dropped from params
    # leaves its old, committed metrics file behind, and it must not reappear in the summary.
    rows, compared_by_level = [], {}
    for level in sorted(noise.levels):
        path = args.compare_dir / f"{level}.json"
        if not path.is_file():
            raise UserError(f"{path}: scores for noise level {level} not found")
        compared = compared_by_level[str(level)] = load_json(path)
        for method, scores in compared.items():
            if isinstance(scores, dict) and "psnr" in scores:
                rows.append({"noise_level": level, "method": method, **scores})
        best = compared.get("best_method")
        if best is not None:
            log.info("noise level %s: best %s, %.2f dB", level, best, compared[best]["psnr"])
        else:
            log.info("noise level %s: %s", level, compared.get("scores_missing"))

    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(args.plot_out) as temporary:
        temporary.write_text(text.getvalue())
    with atomic_dir(args.summary_dir) as temporary:
        for name, table in summary(compared_by_level).items():
            save_json(temporary / f"{name}.json", table)


if __name__ == "__main__":
    run_stage(main)
