"""One thin script per DVC stage; run each as ``python -m stages.<name>`` from the repo root."""
