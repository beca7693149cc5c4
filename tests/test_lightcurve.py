import math

import numpy as np
import pytest

from classifier.lightcurve import LightCurve, LightCurveError, canonical_order


def test_sorts_by_time_and_keeps_errors_aligned():
    lc = LightCurve([3.0, 1.0, 2.0], [13.0, 11.0, 12.0], [0.3, 0.1, 0.2], band="g")
    assert lc.t.tolist() == [1.0, 2.0, 3.0]
    assert lc.mag.tolist() == [11.0, 12.0, 13.0]
    assert lc.err.tolist() == [0.1, 0.2, 0.3]
    assert lc.band == "g"
    assert lc.n_pairs == 3


def test_exact_duplicate_is_kept_once():
    lc = LightCurve([1.0, 2.0, 2.0, 3.0], [15.0, 15.5, 15.5, 15.2])
    assert len(lc) == 3
    assert lc.n_duplicates_dropped == 1


def test_same_time_different_magnitudes_are_both_kept():
    lc = LightCurve([1.0, 2.0, 2.0], [15.0, 15.7, 15.5])
    assert len(lc) == 3
    assert lc.t.tolist() == [1.0, 2.0, 2.0]
    assert lc.mag.tolist() == [15.0, 15.5, 15.7]  # ties ordered by magnitude


def test_canonical_order_does_not_depend_on_input_order():
    rng = np.random.default_rng(3)
    t = rng.choice([1.0, 2.0, 3.0], 30)
    m = rng.choice([10.0, 10.5], 30)
    reference = canonical_order(t, m)
    perm = rng.permutation(30)
    shuffled = canonical_order(t[perm], m[perm])
    assert np.array_equal(t[reference], t[perm][shuffled])
    assert np.array_equal(m[reference], m[perm][shuffled])


def test_arrays_are_read_only():
    lc = LightCurve([1.0, 2.0], [15.0, 15.1])
    with pytest.raises(ValueError):
        lc.t[0] = 5.0


@pytest.mark.parametrize(
    ("kwargs", "field", "reason"),
    [
        ({"t": [1.0, math.nan], "mag": [1.0, 2.0]}, "t[1]", "not finite"),
        ({"t": [1.0, 2.0], "mag": [1.0, math.inf]}, "mag[1]", "not finite"),
        ({"t": [1.0, 2.0], "mag": [1.0, 2.0], "err": [0.1, -0.1]}, "err[1]", "outside"),
        ({"t": [1.0, 2.0, 3.0], "mag": [1.0, 2.0]}, "mag", "does not match"),
        ({"t": [1.0, 2.0], "mag": [1.0, 2.0], "err": [0.1]}, "err", "does not match"),
        ({"t": [1.0], "mag": [1.0]}, "t", "at least 2 points"),
        ({"t": [], "mag": []}, "t", "at least 2 points"),
        ({"t": [1.0, "x"], "mag": [1.0, 2.0]}, "t[1]", "'x' is not a number"),
        ({"t": [1.0, None], "mag": [1.0, 2.0]}, "t[1]", "None is not a number"),
        ({"t": [1.0, True], "mag": [1.0, 2.0]}, "t[1]", "True is not a number"),
        ({"t": "12", "mag": [1.0, 2.0]}, "t", "expected a sequence"),
        ({"t": [[1.0], [2.0]], "mag": [1.0, 2.0]}, "t[0]", "not a number"),
        ({"t": [1.0, 2.0], "mag": [15.0, 99.0]}, "mag[1]", "plausible range"),
        ({"t": [2459000.5, 2459001.5], "mag": [15.0, 15.0]}, "t[0]", "Julian Date"),
        ({"t": [1.0, 2.0], "mag": [15.0, 15.0], "band": ""}, "band", "non-empty"),
    ],
)
def test_invalid_input_names_the_field_and_reason(kwargs, field, reason):
    with pytest.raises(LightCurveError) as excinfo:
        LightCurve(**kwargs)
    assert excinfo.value.field == field
    assert reason in str(excinfo.value)


def test_numpy_integer_input_is_accepted():
    lc = LightCurve(np.array([1, 2, 3]), np.array([15, 16, 15]))
    assert lc.t.dtype == np.float64


def test_first_k_points_is_a_partial_curve():
    lc = LightCurve([5.0, 1.0, 3.0, 2.0], [1.0, 2.0, 3.0, 4.0], band="r", object_id="x")
    head = lc.first(2)
    assert head.t.tolist() == [1.0, 2.0]
    assert (head.band, head.object_id) == ("r", "x")
