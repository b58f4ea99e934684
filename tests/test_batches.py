import numpy as np

from denoising.train.batches import NoisyBatches, draw_levels, noisy_pair
from denoising.train.plan import Corruption

CLEAN = np.random.default_rng(0).uniform(0.2, 0.8, size=(10, 8, 8, 1)).astype(np.float32)


def batches(**overrides):
    corruption = {"type": "gaussian", "levels": 0.3, "clip": True, "target": "clean"}
    settings = {"batch_size": 4}
    for key, value in overrides.items():
        (corruption if key in corruption else settings)[key] = value
    return NoisyBatches(CLEAN, Corruption(**corruption), seed=7, **settings)


def sorted_rows(images):
    return sorted(map(tuple, np.asarray(images).reshape(len(images), -1)))


def test_batches_cover_every_image_once_per_epoch():
    data = batches()
    assert len(data) == 3
    for epoch in (0, 1):
        targets = np.concatenate([data.batch(epoch, index)[1] for index in range(len(data))])
        assert sorted_rows(targets) == sorted_rows(CLEAN)


def test_noise_and_order_are_fresh_every_epoch_and_reproducible():
    first, again = batches(), batches()
    np.testing.assert_array_equal(first.batch(0, 0)[0], again.batch(0, 0)[0])
    assert not np.array_equal(first.batch(1, 0)[0], first.batch(0, 0)[0])
    assert not np.array_equal(first.order(1), first.order(0))
    # Asked in any order, from any thread, a batch is the same.
    np.testing.assert_array_equal(again.batch(1, 2)[0], first.batch(1, 2)[0])


def test_fixed_batches_are_the_same_every_epoch():
    data = batches(fresh=False, rows=[1, 3, 5, 7, 9])
    np.testing.assert_array_equal(data.order(4), [1, 3, 5, 7, 9])
    np.testing.assert_array_equal(data.batch(3, 1)[0], data.batch(0, 1)[0])


def test_dataset_gives_every_epoch_in_turn():
    data = batches(rows=[0, 2, 4, 6, 8])
    made = list(data.dataset(epochs=2).as_numpy_iterator())
    assert len(made) == 2 * len(data) == 4
    for step, (inputs, targets) in enumerate(made):
        expected = data.batch(*divmod(step, len(data)))
        assert inputs.dtype == np.float32 and inputs.shape[1:] == CLEAN.shape[1:]
        np.testing.assert_array_equal(inputs, expected[0])
        np.testing.assert_array_equal(targets, expected[1])
    assert sorted_rows(np.concatenate([t for _, t in made[:2]])) == sorted_rows(CLEAN[::2])


def test_noise2noise_target_is_a_second_independent_noisy_copy():
    inputs, targets = batches(target="noisy", levels=0.5).batch(0, 0)
    assert not np.array_equal(inputs, targets)
    assert not any(np.array_equal(target, clean) for target in targets for clean in CLEAN)
    # Two independent copies: their noises are uncorrelated.
    first = batches().batch(0, 0)[1]
    rows = [i for i in range(10) if any(np.array_equal(c, CLEAN[i]) for c in first)]
    correlation = np.corrcoef((inputs - CLEAN[rows]).ravel(), (targets - CLEAN[rows]).ravel())
    assert abs(correlation[0, 1]) < 0.2


def test_blind_levels_are_drawn_per_image_within_the_range():
    levels = draw_levels([0.2, 0.9], 1000, np.random.default_rng(1))
    assert levels.shape == (1000, 1, 1, 1)
    assert 0.2 <= levels.min() and levels.max() <= 0.9 and levels.std() > 0.15
    noisy, _ = noisy_pair(
        CLEAN, Corruption("gaussian", [0.2, 0.9], False, "clean"), np.random.default_rng(2)
    )
    spread = (noisy - CLEAN).reshape(10, -1).std(axis=1)
    assert spread.max() / spread.min() > 1.5, "every image got the same level"


def test_given_noisy_inputs_are_used_as_they_are():
    given = CLEAN + 0.1
    corruption = Corruption("gaussian", 0.3, True, "clean")
    inputs, targets = noisy_pair(CLEAN, corruption, np.random.default_rng(3), given)
    assert inputs is given and targets is CLEAN


def test_augmentation_moves_each_image_and_its_noisy_copy_together_and_is_seeded():
    given = CLEAN + 0.05
    data = batches(augment=True, batch_size=10)
    data.noisy = given
    inputs, targets = data.batch(0, 0)
    again = batches(augment=True, batch_size=10)
    again.noisy = given
    np.testing.assert_array_equal(inputs, again.batch(0, 0)[0])
    # The input is still the target plus 0.05, image by image: one symmetry for both.
    np.testing.assert_allclose(inputs - targets, 0.05, atol=1e-6)
    # Each target is one of the 8 symmetries of its clean image, and not all are the identity.
    originals = CLEAN[np.sort(data.order(0)[:10])]
    moved = 0
    for original, target in zip(originals, targets, strict=True):
        options = [np.rot90(original, k, axes=(0, 1)) for k in range(4)]
        options += [option[:, ::-1] for option in options]
        assert any(np.array_equal(option, target) for option in options)
        moved += not np.array_equal(original, target)
    assert moved >= 5


def test_augmentation_draws_no_noise_of_its_own():
    plain, augmented = batches(batch_size=10), batches(augment=True, batch_size=10)
    noise_plain = plain.batch(0, 0)[0] - plain.batch(0, 0)[1]
    noise_augmented = augmented.batch(0, 0)[0] - augmented.batch(0, 0)[1]
    # Without clipping the noise would be identical; with it, most pixels still are.
    assert np.mean(np.isclose(noise_plain, noise_augmented)) > 0.5
