"""Denoising autoencoders for a folder of images, run as a DVC pipeline.

The stage scripts in ``stages/`` are thin; the logic lives in these modules, which do no I/O on
import and hold no global random state.
"""

import os

# TensorFlow's C++ logging must be set before TensorFlow is first imported, and every entry
# point (stages, denoise-images, benches) imports this package first. At level 3 only fatal
# messages show: on a CPU machine, "failed call to cuInit: CUDA error" at level E looks like a
# failure and is not one. A value the user set is kept.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
