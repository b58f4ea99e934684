import numpy as np

from denoising.batches import NoisyBatches, draw_levels, noisy_pair

CLEAN = np.random.default_rng(0).uniform(0.2, 0.8, size=(10, 8, 8, 1)).astype(np.float32)


def batches(**overrides):
    settings = dict(noise_type="gaussian", levels=0.3, clip=True, target="clean", batch_size=4)
    settings.update(overrides)
    return NoisyBatches(CLEAN, seed=7, **settings)


def test_batches_cover_every_image_once_per_epoch():
    data = batches()
    assert len(data) == 3
    targets = np.concatenate([data[index][1] for index in range(len(data))])
    assert sorted(map(tuple, targets.reshape(10, -1))) == sorted(map(tuple, CLEAN.reshape(10, -1)))


def test_noise_is_fresh_every_epoch_and_reproducible():
    first, again = batches(), batches()
    epoch_0 = first[0][0]
    np.testing.assert_array_equal(epoch_0, again[0][0])
    first.on_epoch_end()
    assert not np.array_equal(first[0][0], epoch_0)
    again.on_epoch_end()
    np.testing.assert_array_equal(first[0][0], again[0][0])


def test_noise2noise_target_is_a_second_independent_noisy_copy():
    inputs, targets = batches(target="noisy", levels=0.5)[0]
    assert not np.array_equal(inputs, targets)
    assert not any(np.array_equal(target, clean) for target in targets for clean in CLEAN)
    # Two independent copies: their noises are uncorrelated.
    rows = [i for i in range(10) if any(np.array_equal(c, CLEAN[i]) for c in batches()[0][1])]
    correlation = np.corrcoef((inputs - CLEAN[rows]).ravel(), (targets - CLEAN[rows]).ravel())
    assert abs(correlation[0, 1]) < 0.2


def test_blind_levels_are_drawn_per_image_within_the_range():
    levels = draw_levels([0.2, 0.9], 1000, np.random.default_rng(1))
    assert levels.shape == (1000, 1, 1, 1)
    assert 0.2 <= levels.min() and levels.max() <= 0.9 and levels.std() > 0.15
    noisy, _ = noisy_pair(CLEAN, "gaussian", [0.2, 0.9], False, "clean", np.random.default_rng(2))
    spread = (noisy - CLEAN).reshape(10, -1).std(axis=1)
    assert spread.max() / spread.min() > 1.5, "every image got the same level"


def test_given_noisy_inputs_are_used_as_they_are():
    given = CLEAN + 0.1
    inputs, targets = noisy_pair(
        CLEAN, "gaussian", 0.3, True, "clean", np.random.default_rng(3), given
    )
    assert inputs is given and targets is CLEAN
