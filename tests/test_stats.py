"""Statistics on constructed data with known answers: per-episode counts give FewShotMeter's numbers,
the seed summary is the sample std, the paired bootstrap finds a known difference and covers 0 for
identical settings."""
import numpy as np
import pytest
import torch

from panet_min.metrics import FewShotMeter
from panet_min.stats import EpisodeCounts, paired_difference, scores, seed_summary, verdict

CLASSES = [1, 2, 3, 4, 5]


def _random_episodes(rng, R=3, E=40, N=1, S=24, skill=0.7, episodes_seed=0):
    """Predictions and labels of R runs x E episodes, recorded per run by FewShotMeter; the episodes'
    classes come from ``episodes_seed`` (the same episodes for every model), the pixels from ``rng``."""
    meters, ids_all, counts_all = [], [], []
    draw = np.random.default_rng(episodes_seed)
    for _ in range(R):
        meter = FewShotMeter(20, per_episode=True)
        for _ in range(E):
            ids = draw.choice(CLASSES, size=N, replace=False).tolist()
            target = rng.integers(0, N + 1, size=(2, S, S))
            target[:, :2] = 255  # a border
            pred = np.where(rng.random(target.shape) < skill, np.where(target == 255, 0, target),
                            rng.integers(0, N + 1, size=target.shape))
            meter.record(torch.from_numpy(pred), torch.from_numpy(target), ids)
        ids, counts = meter.episode_counts()
        meters.append(meter)
        ids_all.append(ids)
        counts_all.append(counts)
    return meters, EpisodeCounts(np.stack(ids_all), np.stack(counts_all), CLASSES, 20)


@pytest.mark.parametrize("ways", [1, 2])
def test_per_episode_counts_give_the_meters_numbers(ways):
    meters, ev = _random_episodes(np.random.default_rng(ways), N=ways)
    got = scores(ev)
    for r, meter in enumerate(meters):
        class_iou, mean = meter.mean_iou(CLASSES)
        assert got["mean_iou"][r] == pytest.approx(mean, abs=1e-12)
        assert got["binary_iou"][r] == pytest.approx(meter.binary_iou()[1], abs=1e-12)
        np.testing.assert_allclose(got["class_iou"][r], class_iou, atol=1e-12)


def test_weights_count_episodes_twice():
    _, ev = _random_episodes(np.random.default_rng(3))
    twice = EpisodeCounts(np.concatenate([ev.class_ids, ev.class_ids], 1),
                          np.concatenate([ev.counts, ev.counts], 1), CLASSES, 20)
    weights = np.full(ev.class_ids.shape[:2], 2.0)
    np.testing.assert_allclose(scores(ev, weights)["mean_iou"], scores(twice)["mean_iou"])
    np.testing.assert_allclose(scores(ev, weights)["mean_iou"], scores(ev)["mean_iou"])  # a ratio: scale-free


def test_seed_summary_is_the_sample_std():
    s = seed_summary([0.60, 0.64, 0.68])
    assert s == {"mean": pytest.approx(0.64), "std": pytest.approx(0.04), "n": 3, "values": [0.60, 0.64, 0.68]}
    assert seed_summary([0.5])["std"] is None


def _shifted(ev: EpisodeCounts, shift: int) -> EpisodeCounts:
    """The same episodes with ``shift`` pixels of every episode moved from FN to TP (a better model)."""
    counts = ev.counts.copy()
    move = np.minimum(counts[:, :, 2, 1:], shift)
    counts[:, :, 0, 1:] += move
    counts[:, :, 2, 1:] -= move
    return EpisodeCounts(ev.class_ids, counts, ev.classes, ev.n_classes)


def test_a_known_difference_is_found_and_identical_settings_cover_zero():
    rng = np.random.default_rng(0)
    seeds_a = [_random_episodes(rng, skill=s)[1] for s in (0.6, 0.65, 0.7)]
    # b: each seed's model improved by the same episodes' pixels moved from FN to TP
    seeds_b = [_shifted(ev, 30) for ev in seeds_a]
    true = np.mean([scores(b)["mean_iou"].mean() - scores(a)["mean_iou"].mean() for a, b in zip(seeds_a, seeds_b)])
    ci = paired_difference([(seeds_a, seeds_b)], n_resamples=500)
    assert ci["difference"] == pytest.approx(true)
    assert true > 0 and ci["low"] > 0 and ci["low"] <= true <= ci["high"]
    assert verdict(ci) == "shown" and verdict(ci, expected_sign=-1) == "opposite"
    same = paired_difference([(seeds_a, seeds_a)], n_resamples=500)
    assert same["difference"] == 0 and same["low"] == same["high"] == 0 and verdict(same) == "not shown"
    # two different seeds of the same setting: no systematic difference, the CI covers 0
    noise = paired_difference([([seeds_a[0]], [seeds_a[1]]), ([seeds_a[1]], [seeds_a[0]])], n_resamples=500)
    assert noise["difference"] == pytest.approx(0, abs=1e-12) and noise["covers_zero"]


def test_the_seed_level_widens_the_interval():
    """Seeds that disagree (one improves, one worsens) must give a wider CI than seeds that agree."""
    rng = np.random.default_rng(1)
    base = [_random_episodes(rng, skill=0.65)[1] for _ in range(3)]
    agree = [_shifted(ev, 20) for ev in base]
    disagree = [_shifted(base[0], 60), base[1], _shifted(base[2], 1)]
    narrow = paired_difference([(base, agree)], n_resamples=400)
    wide = paired_difference([(base, disagree)], n_resamples=400)
    assert (wide["high"] - wide["low"]) > 2 * (narrow["high"] - narrow["low"])


def test_unpaired_episodes_are_refused():
    rng = np.random.default_rng(2)
    a = _random_episodes(rng)[1]
    b = _random_episodes(rng, episodes_seed=1)[1]  # other classes drawn
    with pytest.raises(ValueError, match="same test episodes"):
        paired_difference([([a], [b])], n_resamples=10)
    with pytest.raises(ValueError, match="pair them seed by seed"):
        paired_difference([([a, a], [a, a, a])], n_resamples=10)


def test_per_episode_values_and_unpaired_settings():
    rng = np.random.default_rng(4)
    a = [rng.normal(1.0, 0.2, size=(3, 50)) for _ in range(3)]
    b = [x + 0.5 for x in a]
    b[0][0, :5] = np.nan  # not measured there: left out of the mean
    ci = paired_difference([(a, b)], n_resamples=300)
    assert ci["low"] > 0.45 and ci["high"] < 0.55 and ci["paired"]
    far = [rng.normal(1.5, 0.2, size=(3, 50)) for _ in range(3)]  # other episodes: unpaired
    unpaired = paired_difference([(a, far)], n_resamples=300, paired=False)
    assert unpaired["low"] < 0.5 < unpaired["high"] and not unpaired["paired"]
    assert (unpaired["high"] - unpaired["low"]) > (ci["high"] - ci["low"])  # no pairing: wider
    with pytest.raises(ValueError, match="same test episodes"):
        paired_difference([(a, [x[:, :40] for x in far])], n_resamples=10)


def test_the_same_models_on_other_episodes_pair_by_seed():
    """Three models whose levels differ a lot (seed variance), each tested on two sets of episodes
    that differ by +0.5: pairing the seeds removes the seed variance from the interval; the episodes
    stay unpaired (another shape is allowed)."""
    rng = np.random.default_rng(7)
    level = [0.0, 2.0, 4.0]
    a = [rng.normal(1.0 + s, 0.2, size=(3, 50)) for s in level]
    b = [rng.normal(1.5 + s, 0.2, size=(3, 40)) for s in level]
    by_seed = paired_difference([(a, b)], n_resamples=500, paired="seeds")
    apart = paired_difference([(a, b)], n_resamples=500, paired=False)
    assert by_seed["low"] < 0.5 < by_seed["high"] and by_seed["low"] > 0.3 and by_seed["paired"] == "seeds"
    assert (apart["high"] - apart["low"]) > 5 * (by_seed["high"] - by_seed["low"])
    assert apart["low"] < 0 < apart["high"]  # the seed variance swamps the effect
    with pytest.raises(ValueError, match="paired must be"):
        paired_difference([(a, b)], n_resamples=10, paired="episodes")
    with pytest.raises(ValueError, match="non-finite"):
        paired_difference([([np.full((3, 50), np.nan)], b[:1])], n_resamples=10, paired="seeds")
