"""Denoising autoencoders for a folder of images, run as a DVC pipeline.

The stage scripts in ``stages/`` are thin; the logic lives in these modules, which do no I/O on
import and hold no global random state.
"""
