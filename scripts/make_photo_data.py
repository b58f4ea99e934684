"""Write a small photo dataset from the images that scikit-image ships inside its package, for
patch training (data.mode: patches), and a noisy 2000x1500 photo to try denoise-images on.

Nothing is downloaded: these files are part of the installed scikit-image wheel.

    python scripts/make_photo_data.py data/photos --noise 0.1
"""

import argparse
from pathlib import Path

import numpy as np
import skimage
from PIL import Image

# Held out of training: scored as test images (centre crops), never seen by the model.
TEST = ("camera.png", "coins.png", "moon.png", "chelsea.png")
# The photo for denoise-images, also held out; 1000x872, cropped to 4:3 and enlarged 2x.
APPLY = "hubble_deep_field.jpg"
# Synthetic charts and tiny images that would teach nothing about photos.
LEFT_OUT = ("chessboard_GRAY.png", "chessboard_RGB.png", "logo.png", "microaneurysms.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--noise", type=float, default=0.1, help="Gaussian sigma of the photo")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    source = Path(skimage.__file__).parent / "data"
    for path in sorted(source.glob("*")):
        if path.suffix not in (".png", ".jpg") or path.name in (*LEFT_OUT, APPLY):
            continue
        split = "test" if path.name in TEST else "train"
        (args.out_dir / split).mkdir(parents=True, exist_ok=True)
        Image.open(path).convert("L").save(args.out_dir / split / f"{path.stem}.png")

    photo = Image.open(source / APPLY).convert("L")
    photo = photo.crop((0, 0, 1000, 750)).resize((2000, 1500), Image.Resampling.BICUBIC)
    clean = np.asarray(photo, dtype=np.float32) / 255.0
    noise = np.random.default_rng(args.seed).normal(0.0, args.noise, clean.shape)
    noisy = np.clip(clean + noise, 0.0, 1.0)
    (args.out_dir / "apply").mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(noisy * 255).astype(np.uint8)).save(
        args.out_dir / "apply" / "hubble_noisy.png"
    )
    photo.save(args.out_dir / "hubble_clean.png")


if __name__ == "__main__":
    main()
