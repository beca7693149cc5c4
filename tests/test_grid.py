import numpy as np
import pytest
from conftest import reference_counts

from classifier.grid import PRESETS, DmDtGrid, GridError
from classifier.lightcurve import LightCurve
from classifier.readers import read_file


def test_preset_shapes_and_edges():
    crts = DmDtGrid.preset("crts")
    scope = DmDtGrid.preset("scope")
    assert crts.shape == (22, 24)
    assert scope.shape == (26, 26)
    assert crts.dt_edges[1] == 1 / 145 and crts.dt_edges[-1] == 4000
    assert crts.dm_edges[0] == -8 and crts.dm_edges[11] == 0
    assert scope.dt_edges[1] == 0.02759 and scope.dm_edges[13] == 0


def test_unknown_preset_and_bad_edges_are_rejected():
    with pytest.raises(GridError, match="unknown bins preset 'nope'"):
        DmDtGrid.preset("nope")
    with pytest.raises(GridError, match="strictly increasing"):
        DmDtGrid([0, 1, 1], [0, 1])
    with pytest.raises(GridError, match="at least 2 edges"):
        DmDtGrid([0], [0, 1])
    with pytest.raises(GridError, match="finite"):
        DmDtGrid([0, np.nan], [0, 1])
    with pytest.raises(GridError, match="first edge must be >= 0"):
        DmDtGrid([0, 1], [-1, 1])
    with pytest.raises(GridError, match="too fine"):
        DmDtGrid([-8, 0, 1e-9, 8], [0, 1])


def test_dict_round_trip_and_fingerprint():
    grid = DmDtGrid.preset("crts")
    again = DmDtGrid.from_dict(grid.to_dict())
    assert again.fingerprint == grid.fingerprint
    assert DmDtGrid.preset("scope").fingerprint != grid.fingerprint
    with pytest.raises(GridError, match="lacks 'dt_edges'"):
        DmDtGrid.from_dict({"dm_edges": [0, 1]})


def test_counts_on_real_css_curves_equal_the_definition(samples, grid):
    for path in sorted(samples.glob("css_*.csv")):
        curve = read_file(path)[0].curve()
        assert np.array_equal(grid.counts(curve), reference_counts(curve.t, curve.mag, grid))


def test_values_exactly_on_edges_follow_numpy_semantics():
    grid = DmDtGrid.preset("crts")
    # dt exactly on every edge (t_i = 0), dm exactly on every edge (m_i = 0).
    for dm in grid.dm_edges:
        for dt in grid.dt_edges[1:]:
            counts = grid.counts([0.0, dt], [0.0, dm])
            expected = reference_counts([0.0, dt], [0.0, dm], grid)
            assert np.array_equal(counts, expected), (dm, dt)
    # The last bins are closed on the right, as in numpy.
    assert grid.counts([0.0, 4000.0], [0.0, 8.0])[-1, -1] == 1
    assert grid.counts([0.0, 4000.0001], [0.0, 0.0]).sum() == 0
    assert grid.counts([0.0, 1.0], [0.0, 8.0001]).sum() == 0


def test_repeated_times_pair_is_not_binned_but_pairs_with_others():
    grid = DmDtGrid.preset("crts")
    counts = grid.counts([1.0, 1.0, 2.0], [15.0, 15.4, 15.0])
    assert counts.sum() == 2  # (1.0, 15.0)-(2.0, 15.0) and (1.0, 15.4)-(2.0, 15.0)


def test_dm_sign_is_later_minus_earlier():
    grid = DmDtGrid.preset("crts")
    counts = grid.counts([2.0, 1.0], [16.0, 15.0])  # fainter later: dm = +1
    row = np.searchsorted(grid.dm_edges, 1.0, side="right") - 1
    assert counts[row].sum() == 1


def test_counts_many_equals_one_by_one(samples, grid):
    curves = [p.curve() for path in sorted(samples.glob("*.csv*")) for p in read_file(path)]
    curves.append((np.array([3.0, 1.0]), np.array([15.0, 15.5])))  # raw arrays, unsorted
    many = grid.counts_many(curves)
    assert many.shape == (len(curves), *grid.shape)
    for stack, curve in zip(many, curves, strict=True):
        assert np.array_equal(
            stack, grid.counts(*curve) if isinstance(curve, tuple) else grid.counts(curve)
        )
    assert grid.counts_many([]).shape == (0, *grid.shape)


def test_invariant_to_time_shift_and_magnitude_offset(samples):
    grid = DmDtGrid.preset("crts")
    curve = read_file(samples / "css_1001013056406-RRc.csv")[0].curve()
    shifted = LightCurve(curve.t + 0.5, curve.mag + 0.25)
    # Shifts are binary fractions: differences stay exact, so counts must agree exactly.
    assert np.array_equal(grid.counts(curve), grid.counts(shifted))


def test_custom_edges_work_like_presets():
    rng = np.random.default_rng(7)
    grid = DmDtGrid(np.linspace(-2, 2, 41), np.geomspace(0.01, 1000, 30), name="fine")
    t, m = np.sort(rng.uniform(0, 500, 300)), rng.normal(0, 0.6, 300)
    assert np.array_equal(grid.counts(t, m), reference_counts(t, m, grid))


def test_presets_are_documented_data():
    assert set(PRESETS) == {"crts", "crts-fine-dm", "scope"}
