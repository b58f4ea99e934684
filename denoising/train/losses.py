"""Per-pixel training losses against noisy targets (Noise2Noise, and the self-supervised ones).

Binary cross-entropy, the pipeline's default loss, is bounded below only for targets in [0, 1]:
for an unclipped noisy target outside it, a network can lower the loss without end by pushing
its output to 0 or 1, and Noise2Noise and N2V2 with a larger mask diverged so on unclipped noise.
Here it counts a target outside [0, 1] as its nearer end. A network then learns the mean of the
clipped noisy value, as it does on clipped noise, and the card's correction (the clipped mean's
inverse, ``denoising.clipping``) applies to it in the same way.

Guarantee: ``pixel_error(loss)(target, output)`` is ``loss``'s per-pixel error, elementwise; for
binary cross-entropy, of the target clipped to [0, 1], so that for targets in [0, 1] it is
Keras's binary cross-entropy exactly. ``mean_loss`` averages it over each image's pixels.
"""


def pixel_error(loss: str):
    """The per-pixel error of ``loss`` (a train.loss name) as a function of (target, output)."""
    from keras import ops

    errors = {
        "mse": lambda t, p: ops.square(t - p),
        "mae": lambda t, p: ops.abs(t - p),
        "binary_crossentropy": lambda t, p: ops.binary_crossentropy(ops.clip(t, 0.0, 1.0), p),
    }
    return errors[loss]


def mean_loss(loss: str):
    """A Keras loss: ``loss``'s per-pixel error (``pixel_error``) averaged over each image."""
    from keras import ops

    error = pixel_error(loss)

    def noisy_target_loss(target, output):
        return ops.mean(error(target, output), axis=(1, 2, 3))

    return noisy_target_loss
