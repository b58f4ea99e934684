import numpy as np

from denoising.models import BUILDERS, build_model, save_model
from denoising.params import MODEL_NAMES


def test_every_param_model_name_has_a_builder():
    assert set(BUILDERS) == set(MODEL_NAMES)


def test_dense_is_the_original_784_128_784_autoencoder():
    model = build_model("dense", (28, 28, 1), 0.001, "binary_crossentropy")
    assert model.output_shape == (None, 28, 28, 1)
    assert [layer.units for layer in model.layers if hasattr(layer, "units")] == [128, 784]
    assert model.count_params() == (784 * 128 + 128) + (128 * 784 + 784)
    output = model.predict(np.zeros((2, 28, 28, 1), dtype=np.float32), verbose=0)
    assert output.shape == (2, 28, 28, 1) and 0.0 <= output.min() and output.max() <= 1.0


def test_saved_model_has_the_same_bytes_each_time_and_loads_safely(tmp_path):
    import keras

    model = build_model("dense", (12, 10, 1), 0.001, "mse")
    save_model(model, tmp_path / "a.keras")
    save_model(model, tmp_path / "b.keras")
    assert (tmp_path / "a.keras").read_bytes() == (tmp_path / "b.keras").read_bytes()
    loaded = keras.saving.load_model(tmp_path / "a.keras", safe_mode=True)
    batch = np.random.default_rng(0).uniform(size=(3, 12, 10, 1)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(batch, verbose=0), model.predict(batch, verbose=0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.keras", "b.keras"]
