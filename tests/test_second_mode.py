"""classifier.second_mode: the second pulsation mode of a double-mode RR Lyrae."""

import numpy as np
import pytest

from classifier.features import FEATURE_NAMES, feature_matrix
from classifier.readers import read_file
from classifier.second_mode import MIN_POINTS, NAMES, second_mode


def _features(path) -> dict[str, float]:
    row = feature_matrix([read_file(path)[0].curve()])[0]
    return dict(zip(FEATURE_NAMES, row.tolist(), strict=True))


def test_a_real_rrd_shows_its_second_mode_and_a_real_rrc_does_not(samples):
    rrd = _features(samples / "css_1001010040054-RRd.csv")
    rrc = _features(samples / "css_1001013056406-RRc.csv")
    assert rrd["second_mode_power"] > 0.3 and rrc["second_mode_power"] < 0.1
    assert rrd["second_mode_ratio"] == pytest.approx(0.745, abs=0.005)  # P1/P0 of the field


def test_the_search_finds_the_fundamental_below_the_overtone_and_above_it():
    t = np.sort(np.random.default_rng(8).uniform(0.0, 900.0, 250))
    for dominant, other, ratio in ((0.55, 0.55 * 0.745, 1 / 0.745), (0.36, 0.36 / 0.745, 0.745)):
        m = 0.4 * np.sin(2 * np.pi * t / dominant) + 0.1 * np.sin(2 * np.pi * t / other)
        power, found = second_mode(t, m, dominant)
        assert power > 0.9 and found == pytest.approx(ratio, abs=0.002)


def test_too_few_points_or_no_period_give_nan_not_an_error():
    t = np.arange(MIN_POINTS - 1, dtype=float)
    assert np.isnan(second_mode(t, np.sin(t), 0.5)).all()
    t = np.arange(40.0)
    assert np.isnan(second_mode(t, np.sin(t), float("nan"))).all()
    assert np.isnan(second_mode(t, np.ones(40), 0.5)).all()  # nothing left to search
    assert len(NAMES) == 2
