"""The full-image command, ``denoise-images``: reading any image at its full size, tiling it so
that the result matches the untiled one, the self-ensemble, and writing the result safely. It
uses the core dependencies only (TensorFlow, Keras, NumPy, Pillow, tifffile, tqdm), which
``pip install .`` gives; the pipeline's extras are imported only where they are optional, inside
``try: ... except ImportError``. tests/test_architecture.py checks both."""
