"""Training: the plan (``plan``: targets, rows, shapes), the feed (``batches``: the pairs that
``model.fit`` takes), fit and save (``fit``), the architectures (``models``), noise (``noise``),
the self-supervised targets (``blindspot``, ``neighbors``), precision and devices
(``accelerators``) and resuming an interrupted run (``resume``)."""
