"""Which denoiser the apply stage runs for ``apply.model: best/<level>``: the method that
``compare@<level>`` measured best, among those ``denoise-images`` can run.

The guarantee: ``choose`` returns the runnable method with the highest PSNR in compare's scores
(the noisy input aside), and the ``denoise-images`` arguments that run it: a per-level model's
folder; a blind model's folder, told the level when it takes one; or bm3d, nlm or tv told the
level as sigma. Methods it cannot run (the Gaussian and median filters, models not trained) are
passed over, in PSNR order, and said so; if none is left, one line says why.
"""

from pathlib import Path

from denoising.cards import read_card, takes_level
from denoising.errors import UserError
from denoising.names import BLIND, BLIND_SUFFIX, CLASSICAL, REAL
from denoising.score.metrics import ranked_methods


def arguments(method: str, level: str, models_dir: Path) -> list[str] | None:
    """The ``denoise-images`` arguments that run ``method`` at ``level`` (as params.yaml and
    the model folders write it: "0.5", "real"), or None if it cannot."""
    if method in CLASSICAL:
        return None if level == REAL else [method, "--sigma", level]
    blind = method.endswith(BLIND_SUFFIX)
    model = method.removesuffix(BLIND_SUFFIX)
    folder = models_dir / model / (BLIND if blind else level)
    if not (folder / "model.keras").is_file():
        return None
    told = blind and takes_level(read_card(folder)[1])
    return [str(folder), *(["--sigma", level] if told and level != REAL else [])]


def choose(
    compared: dict, level: str, models_dir: Path
) -> tuple[str, float, list[str], list[str]]:
    """The best runnable method at ``level``, its PSNR, its ``denoise-images`` arguments, and
    the better-scored methods passed over."""
    passed = []
    for method, psnr in ranked_methods(compared):
        args = arguments(method, level, models_dir)
        if args is not None:
            return method, psnr, args, passed
        passed.append(method)
    reason = compared.get("scores_missing", "no method that denoise-images can run was scored")
    raise UserError(f"apply.model: best/{level}: nothing to apply: {reason}")
