"""The models that ship inside the package, ready to denoise with no training: one folder each
under denoising/bundled/, holding its recipe.yaml (how scripts/train_bundled.py retrains it
through the pipeline), model.keras (float16 weights, float32 again when loaded) and card.json.
A name is bundled once its folder holds a model; `denoise-images` with no model picks one per
image by its channels (``for_channels``)."""

from pathlib import Path

from denoising.errors import UserError

HERE = Path(__file__).resolve().parent
# Every bundled model, by name: the images it is for. With no model named, a grey image goes
# to "gray" and a colour image to "color"; without a grey model, a grey image goes to the
# colour one (its channel repeated into R, G and B). "camera" and "real" are used when named.
BUNDLED = {
    "gray": "grey photos, Gaussian noise of sigma 0 to 50 of 255",
    "color": "colour photos (R, G and B), Gaussian noise of sigma 0 to 50 of 255",
    "camera": "colour photos with camera-like noise: signal-dependent, spread over neighbouring "
    "pixels and JPEG-compressed (synthetic, on CBSD432; blind, no level input)",
    "real": "colour photos with real camera noise (starts from camera, fine-tuned on PolyU's "
    "Canon shots; non-commercial use, as PolyU's licence)",
}
# The models picked by an image's channels, in order of preference.
BY_CHANNELS = {1: ("gray", "color"), 3: ("color", "gray")}


def recipe_path(name: str) -> Path:
    """Where bundled model ``name``'s recipe is."""
    return HERE / name / "recipe.yaml"


def shipped() -> list[str]:
    """The bundled models this install holds, in ``BUNDLED``'s order."""
    return [name for name in BUNDLED if (HERE / name / "model.keras").is_file()]


def is_bundled_name(model: Path) -> bool:
    """Whether MODEL, as given, names a bundled model rather than a path."""
    return str(model) in BUNDLED and not model.exists()


def bundled_folder(name: str) -> Path:
    """The folder of bundled model ``name``; one line if this install does not hold it."""
    if name not in shipped():
        have = ", ".join(shipped()) or "none"
        raise UserError(f"bundled model '{name}' is not in this install (it holds: {have})")
    return HERE / name


def for_channels(channels: int) -> str:
    """The bundled model for an image of ``channels`` channels (1: grey, 3: colour)."""
    held = shipped()
    have = [name for name in BY_CHANNELS[1 if channels == 1 else 3] if name in held]
    if not have:
        raise UserError(
            "no bundled grey or colour model in this install; name a model folder, or bm3d "
            "with --sigma"
        )
    return have[0]
