"""The project's vocabulary, named once: the words that params.yaml, the stage arguments, the
folders, the scores and the model cards share. It imports nothing, so that every module can use
it, ``denoise-images`` included (which has only the core dependencies).

A noise level has one spelling in memory, ``parse_level``'s: a float, or ``REAL``; and one on
disk and on screen, ``level_name``'s: "0.5", or "real".
"""

# noise.type and noise.levels ``[real]``: the images in data.dir are noisy already; nothing is
# added, and the one "level" is this.
REAL = "real"
# data.dir/train_clean/: clean references of real noisy train images (the mean of many shots),
# clean targets for train.target clean with real noise.
TRAIN_REFERENCES = "train_clean"
# apply.model: best/<level> applies the method that compare measured best at that level.
BEST = "best"
# The summary table (metrics/summary/best.json) that names the best method at each level: the
# same word as BEST, for another thing. No method has this name: models and baselines come from
# fixed lists of names.
BEST_TABLE = "best"
# What a model learns from without clean images: its own masked pixels (Noise2Void, N2V2) or a
# neighbour sub-image (Neighbor2Neighbor).
SELF_SUPERVISED = ("n2v", "n2v2", "ne2ne")
# What a model learns to output: the clean image, a second noisy copy (Noise2Noise), or one of
# the self-supervised targets.
TARGETS = ("clean", "noisy", *SELF_SUPERVISED)
# The classical denoisers of the baselines stage, and those of them that denoise-images runs in
# place of a model, told sigma (the Gaussian and median filters take no sigma).
# cbm3d is BM3D in an opponent colour space (bm3d.bm3d_rgb), for colour images only; bm3d on
# colour denoises R, G and B one by one.
BASELINE_NAMES = ("gaussian", "median", "tv", "nlm", "bm3d", "cbm3d")
CLASSICAL = ("bm3d", "cbm3d", "nlm", "tv")
COLOR_ONLY = ("cbm3d",)
# How denoise-images (and apply.color) meets a colour image with a grey model.
COLORS = ("per-channel", "gray")
# data.color: what the pipeline's arrays hold, one grey channel (the original design) or three,
# R, G and B; and the channels of each.
DATA_COLORS = {"gray": 1, "rgb": 3}
# Every data stage writes one array per split, named after it: train.npy and test.npy.
SPLITS = ("train", "test")
# A blind model (one for every level) is stored under models/<model>/blind and scored as
# "<model>-blind", beside the per-level ones.
BLIND = "blind"
BLIND_SUFFIX = f"-{BLIND}"


def parse_level(text: str) -> float | str:
    """A level as an argument gives it: a number, or "real" for images that are noisy already."""
    return REAL if text == REAL else float(text)


def level_name(level: float | str) -> str:
    """A level as people read it, and as folders are named: "0.5", or "real"."""
    return level if isinstance(level, str) else f"{level:g}"
