"""Other surveys' cadences as views of real curves, and the leakage audit built on them."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.features import FEATURE_NAMES
from classifier.grid import DmDtGrid
from classifier.lightcurve import LightCurve
from classifier.readers import read_file
from training.cadences import CADENCES, CSS, MIN_POINTS, nights, survey_views, view
from training.leakage import IMAGE, IMAGE_MINUS_BACKGROUND, audit

pytest.importorskip("sklearn")


def _css_like(seed: int = 0) -> LightCurve:
    """CSS's sampling: 4 exposures ~10 min apart a visit, ~90 nights over 8 years."""
    rng = np.random.default_rng(seed)
    days = np.sort(rng.choice(np.arange(0.0, 2900.0), 90, replace=False))
    t = np.concatenate([d + np.arange(4) * 0.0066 for d in days])
    mag = 15.0 + 0.4 * np.sin(2 * np.pi * t / 0.61) + rng.normal(0, 0.05, len(t))
    return LightCurve(t, mag, np.full(len(t), 0.05))


@pytest.mark.parametrize("name", sorted(CADENCES))
def test_a_view_keeps_only_real_points_as_the_survey_would_take_them(name):
    cadence = CADENCES[name]
    curve = _css_like()
    rng = np.random.default_rng(3)
    for _ in range(20):
        seen = view(curve, cadence, rng)
        assert len(seen) >= MIN_POINTS
        assert set(seen.t) <= set(curve.t)  # no invented time, hence no invented phase
        per_night = [len(n) for n in nights(seen.t)]
        assert max(per_night) <= cadence.per_night
        if cadence.per_night == 2:  # a pair is the night's widest one
            night_of = {t: n for n in nights(curve.t) for t in curve.t[n]}
            for n in nights(seen.t):
                if len(n) == 2:
                    spanned = curve.t[night_of[seen.t[n[0]]]]
                    assert seen.t[n[1]] - seen.t[n[0]] == pytest.approx(np.ptp(spanned))
        if cadence.epochs is not None:
            assert len(per_night) <= cadence.epochs[1]
        assert np.all(seen.err >= 0.05 - 1e-12)  # never more precise than the real points
        assert cadence.bright <= np.median(seen.mag) <= cadence.m5


def test_the_css_view_is_the_curve_and_errors_follow_the_depth():
    curve = _css_like()
    assert view(curve, CSS, np.random.default_rng(0)) is curve
    for cadence in CADENCES.values():
        errors = cadence.error(np.array([cadence.m5 - 5, cadence.m5 - 2, cadence.m5]))
        assert np.all(np.diff(errors) > 0)
        assert errors[-1] == pytest.approx(np.hypot(cadence.sigma_sys, 0.2), rel=1e-6)


def test_views_of_real_css_curves_have_each_survey_s_counts_and_baselines(samples):
    curves = [read_file(p)[0].curve() for p in sorted(samples.glob("css_*.csv"))]
    rng = np.random.default_rng(0)
    gaia = [view(c, CADENCES["gaia"], rng) for c in curves]
    assert all(v.baseline <= 1038.0 * 1.5**3 for v in gaia)
    assert np.median([len(v) for v in gaia]) >= 40
    sparse = [view(c, CADENCES["sparse"], rng) for c in curves]
    assert all(len(v) <= 60 for v in sparse) and all(len(nights(v.t)) == len(v) for v in sparse)


def test_the_audit_finds_the_point_count_and_nothing_at_css_cadence(samples):
    curves = [read_file(p)[0].curve() for p in sorted(samples.glob("css_*.csv"))]
    grid = DmDtGrid.preset("crts")
    same = audit(curves, {"css": curves}, grid)
    features = same.separability[: len(FEATURE_NAMES), 0]
    assert np.all(features == 0.0) and np.all(same.shift[: len(FEATURE_NAMES)] == 0.0)
    rng = np.random.default_rng(0)
    other = audit(curves, {"gaia": [view(c, CADENCES["gaia"], rng) for c in curves]}, grid)
    by_input = dict(zip(other.inputs, other.separability[:, 0], strict=True))
    assert by_input["log10_n_points"] == 1.0 and "log10_n_points" in other.leaking()
    assert other.inputs[-2:] == (IMAGE, IMAGE_MINUS_BACKGROUND)
    assert np.all(same.shift[-2:] == 0.0)  # one sampling: its background moves nothing either


def test_survey_views_are_every_cadence_s_views_drawn_in_one_order_from_the_seed(samples):
    curves = [read_file(path)[0].curve() for path in sorted(samples.glob("css_*.csv"))]
    views = survey_views(curves, 2017)
    assert list(views) == list(CADENCES)
    rng = np.random.default_rng(2017)  # the order dmdt evaluate and training.ceiling rely on
    for name, cadence in CADENCES.items():
        for made, curve in zip(views[name], curves, strict=True):
            expected = view(curve, cadence, rng)
            np.testing.assert_array_equal(made.t, expected.t)
            np.testing.assert_array_equal(made.mag, expected.mag)
    again, other = survey_views(curves, 2017), survey_views(curves, 2018)
    assert all(np.array_equal(a.t, b.t) for a, b in zip(again["ztf"], views["ztf"], strict=True))
    assert not all(
        np.array_equal(a.t, b.t) for a, b in zip(other["ztf"], views["ztf"], strict=True)
    )
