"""Stage summarize: PSNR and SSIM against noise level, one row per level, as plot data."""

import argparse
import csv
import io
from pathlib import Path

from denoising.cli import run_stage
from denoising.errors import UserError
from denoising.files import atomic_path, load_json
from denoising.params import NoiseParams, load_section

COLUMNS = ("noise_level", "psnr_noisy", "psnr_denoised", "ssim_noisy", "ssim_denoised")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--metrics-dir", type=Path, required=True)
    parser.add_argument("--plot-out", type=Path, required=True)
    args = parser.parse_args()
    noise = load_section(args.params, "noise", NoiseParams)

    # Read the levels named in params, not every file in the folder: a level dropped from params
    # leaves its old, committed metrics file behind, and it must not reappear in the summary.
    rows = []
    for level in sorted(noise.levels):
        path = args.metrics_dir / f"{level}.json"
        if not path.is_file():
            raise UserError(f"{path}: metrics for noise level {level} not found")
        metrics = load_json(path)
        rows.append({column: metrics[column] for column in COLUMNS})

    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(args.plot_out) as temporary:
        temporary.write_text(text.getvalue())


if __name__ == "__main__":
    run_stage(main)
