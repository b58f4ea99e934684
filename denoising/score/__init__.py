"""Scoring: image quality (``metrics``), the classical denoisers compared against
(``baselines``), and the figures (``figures``)."""
