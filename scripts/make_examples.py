"""Write data/examples/: a sheet of noisy digits from the sample's test split, for the apply
stage to denoise with a model trained at that noise level.

    python scripts/make_examples.py data/sample/test data/examples --noise 0.5
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

ROWS, COLUMNS = 6, 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("test_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    files = sorted(args.test_dir.rglob("*.png"))
    chosen = rng.choice(len(files), size=ROWS * COLUMNS, replace=False)
    digits = [np.asarray(Image.open(files[i]).convert("L"), np.float32) / 255 for i in chosen]
    sheet = np.block([digits[r * COLUMNS : (r + 1) * COLUMNS] for r in range(ROWS)])
    noisy = np.clip(sheet + args.noise * rng.standard_normal(sheet.shape), 0, 1)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    name = f"digits_noise{args.noise:g}.png"
    Image.fromarray(np.round(noisy * 255).astype(np.uint8)).save(args.out_dir / name)


if __name__ == "__main__":
    main()
