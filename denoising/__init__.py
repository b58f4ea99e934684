"""Denoising autoencoders for a folder of images, run as a DVC pipeline.

The stage scripts in ``stages/`` are thin; the logic lives in this package, which does no I/O
on import and holds no global random state. It has four wings around a shared hall:

- the hall, these top-level modules: the vocabulary (``names``, which imports nothing), the model
  card (``cards``), params, where data lives (``layout``), reading folders and images (``listing``,
  ``images``, ``folders``), the row files (``rows``), safe writes (``files``), errors, the level
  input (``noise_map``) and TensorFlow's quiet start (``quiet``);
- ``command/``: ``denoise-images``, on the core dependencies only;
- ``train/``: the plan, the feed, fit and save, the models and the noise;
- ``score/``: metrics, the classical baselines and the figures;
- ``experiments/``: ranking and searching DVC experiments, and the apply stage's choice.

A wing imports the hall and never a stage; the hall imports no wing; nothing imports in a cycle
(tests/test_architecture.py checks all three).
"""

import os

# TensorFlow's C++ logging must be set before TensorFlow is first imported, and every entry
# point (stages, denoise-images, benches) imports this package first. At level 3 only fatal
# messages show: on a CPU machine, "failed call to cuInit: CUDA error" at level E looks like a
# failure and is not one. A value the user set is kept.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
