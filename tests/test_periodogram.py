"""The refined periodogram (classifier/periodogram.py) and how models choose their method."""

import json

import light_curve as lcf
import numpy as np
import pytest

from classifier import periodogram as pg
from classifier.bundle import load_bundle
from classifier.features import FEATURE_NAMES, feature_matrix
from classifier.lightcurve import LightCurve
from classifier.registry import find_bundle


def _refined(t: np.ndarray, mag: np.ndarray, err: np.ndarray) -> np.ndarray:
    return pg.refined_periodograms([(t, mag, err)])[0]


def _sinusoid(period: float, n: int, baseline: float, seed: int = 0) -> LightCurve:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, baseline, n)) + 55000.0
    mag = 15 + 0.4 * np.sin(2 * np.pi * t / period) + rng.normal(0, 0.02, n)
    return LightCurve(t, mag, np.full(n, 0.02))


def test_the_exact_power_is_light_curves_direct_lomb_scargle():
    curve = _sinusoid(0.61, 60, 300.0)
    omega = np.linspace(0.5, 0.9, 41)
    _, expected = lcf.Periodogram(freqs=omega, fast=False).freq_power(curve.t, curve.mag)
    ours = pg.lomb_scargle(curve.t, curve.mag, omega[:1], omega[1] - omega[0], len(omega))[0]
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(("period", "baseline"), [(0.3127, 30.0), (0.61, 400.0), (180.0, 3000.0)])
def test_the_best_period_is_found_finer_than_the_coarse_grid(period, baseline):
    curve = _sinusoid(period, 80, baseline)
    values = dict(zip(pg.NAMES, _refined(curve.t, curve.mag, curve.err), strict=True))
    coarse_step = pg.MAX_ANGULAR_FREQUENCY / 2 ** pg.grid_power(baseline)
    found = 2 * np.pi / values["periodogram_period_0"]
    assert abs(found - 2 * np.pi / period) < coarse_step / 4
    assert values["periodogram_period_s_to_n_0"] > 5
    assert values["period_folded_amplitude"] == pytest.approx(0.4, abs=0.05)


def test_curves_without_a_periodogram_give_nan_not_an_error():
    t = np.array([1.0, 2.0, 3.0, 4.0])
    for mag in (np.full(4, 15.0), np.array([15.0, 15.1, 14.9, 15.2])[:2]):
        assert np.isnan(_refined(t[: len(mag)], mag, np.full(len(mag), 0.1))).all()
    assert np.isnan(_refined(np.full(4, 2.0), t, np.full(4, 0.1))).all()
    repeated = _sinusoid(0.5, 40, 100.0)
    t = np.repeat(repeated.t[:20], 2)  # every time twice
    assert np.isfinite(_refined(t, repeated.mag, repeated.err)[:4]).all()


def test_the_method_is_the_cards_and_old_cards_keep_the_fixed_grid(tmp_path):
    shipped = find_bundle("css-hybrid")
    card = json.loads((shipped.onnx_path.parent / "card.json").read_text())
    assert card["periodogram"] == "refined" and shipped.periodogram == "refined"
    (tmp_path / "model.onnx").write_bytes(shipped.onnx_path.read_bytes())
    del card["periodogram"]  # a 1.x card, written before the field existed
    (tmp_path / "card.json").write_text(json.dumps(card))
    assert load_bundle(tmp_path).periodogram == "fixed"
    (tmp_path / "card.json").write_text(json.dumps({**card, "periodogram": "fast"}))
    with pytest.raises(ValueError, match="periodogram"):
        load_bundle(tmp_path)


def test_feature_vectors_differ_only_in_the_periodogram_columns():
    curves = [_sinusoid(0.4 + 0.1 * i, 50, 200.0, seed=i) for i in range(5)]
    fixed = feature_matrix(curves, periodogram="fixed")
    refined = feature_matrix(curves, periodogram="refined")
    periodogram_columns = [i for i, name in enumerate(FEATURE_NAMES) if "period" in name]
    other = [i for i in range(len(FEATURE_NAMES)) if i not in periodogram_columns]
    assert np.array_equal(fixed[:, other], refined[:, other])
    # both find the same best period on clean sinusoids
    column = FEATURE_NAMES.index("log10_period_0")
    assert refined[:, column] == pytest.approx(fixed[:, column], abs=0.01)
    with pytest.raises(ValueError, match="periodogram must be one of"):
        feature_matrix(curves, periodogram="fast")  # type: ignore[arg-type]


def _series(curve: LightCurve, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return curve.t[:n], curve.mag[:n], curve.err[:n]


def test_a_kept_coarse_pass_serves_a_grown_curve_and_finds_its_period():
    curve = _sinusoid(0.61, 140, 700.0)
    passes: list = [None]
    first = pg.refined_periodograms([_series(curve, 100)], passes=passes)[0]
    kept = passes[0]
    assert kept is not None and kept.n_points == 100
    grown = _series(curve, 109)
    reused = pg.refined_periodograms([grown], passes=passes)[0]
    assert passes[0] is kept  # served: no coarse pass ran
    fresh = pg.refined_periodograms([grown])[0]
    # The refinement and the folding ran on all 109 points: the same best period as a
    # fresh computation, and that of the star; only the kept S/N is the pass's.
    assert reused[0] == pytest.approx(fresh[0], rel=1e-4)
    assert reused[0] == pytest.approx(0.61, rel=1e-3)
    assert reused[1] == first[1]
    pg.refined_periodograms([_series(curve, 111)], passes=passes)
    assert passes[0] is not kept and passes[0].n_points == 111  # grown by more: computed again
    short: list = [None]
    pg.refined_periodograms([_series(curve, 99)], passes=short)
    kept_short = short[0]
    pg.refined_periodograms([_series(curve, 100)], passes=short)
    assert short[0] is not kept_short  # a pass of under 100 points is never reused


def test_a_kept_pass_of_another_format_or_length_is_not_read():
    kept = pg.CoarsePass(14, 100, 365.5, np.arange(2.0 * pg.CANDIDATES))
    back = pg.CoarsePass.from_bytes(kept.to_bytes())
    assert back is not None and (back.power, back.n_points, back.baseline) == (14, 100, 365.5)
    assert back.peaks.tolist() == kept.peaks.tolist()
    other_format = np.frombuffer(kept.to_bytes(), "<f8").copy()
    other_format[0] = 2.0
    assert pg.CoarsePass.from_bytes(other_format.tobytes()) is None
    assert pg.CoarsePass.from_bytes(kept.to_bytes()[:-8]) is None


@pytest.mark.parametrize("periodogram", ["refined", "fixed"])
def test_a_few_curves_one_by_one_get_what_a_thread_pool_gives(samples, periodogram):
    """Under ``PARALLEL_FROM`` curves, light-curve's extractors run on each curve in turn
    (``many`` costs a thread pool a call); the values are the same, bit for bit."""
    from classifier.readers import read_file  # noqa: PLC0415

    curves = [read_file(path)[0].curve() for path in sorted(samples.glob("css_*.csv"))]
    curves += [LightCurve(c.t[:k], c.mag[:k]) for c in curves for k in (8, 40)]
    assert len(curves) >= pg.PARALLEL_FROM
    together = feature_matrix(curves, names=FEATURE_NAMES, periodogram=periodogram)
    in_twos = [
        feature_matrix(curves[i : i + 2], names=FEATURE_NAMES, periodogram=periodogram)
        for i in range(0, len(curves), 2)
    ]
    np.testing.assert_array_equal(np.vstack(in_twos), together)
