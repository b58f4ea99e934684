"""Experiments: ranking DVC experiments (``best``), searching them with Optuna (``tune``), and
the apply stage's choice of the best method (``choice``)."""
