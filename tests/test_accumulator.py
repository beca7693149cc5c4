import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import reference_counts
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.accumulator import DmDtAccumulator, EncodingError, points_bytes
from classifier.grid import DmDtGrid
from classifier.lightcurve import LightCurveError
from classifier.readers import read_file

CRTS = DmDtGrid.preset("crts")
SCOPE = DmDtGrid.preset("scope")


def points_on(grid: DmDtGrid, max_size: int = 60) -> st.SearchStrategy:
    """Points whose times and magnitudes are often edges of ``grid`` (and 0), so that many
    differences land exactly on an edge, with repeated times and magnitudes."""
    edge_times = st.sampled_from([0.0, *grid.dt_edges.tolist()])
    edge_mags = st.sampled_from([0.0, *grid.dm_edges.tolist()])
    times = st.one_of(edge_times, edge_times, st.floats(0.0, 5000.0, allow_nan=False))
    mags = st.one_of(edge_mags, edge_mags, st.floats(-9.0, 9.0, allow_nan=False))
    return st.lists(st.tuples(times, mags), max_size=max_size)


@settings(max_examples=400, deadline=None)
@given(
    grid=st.sampled_from([CRTS, SCOPE]),
    chunks=st.lists(st.integers(1, 7), max_size=20),
    data=st.data(),
)
def test_any_sequence_of_additions_equals_batch(grid, chunks, data):
    """Out-of-order arrival, batches of any size, re-sent points: same counts as batch."""
    points = data.draw(points_on(grid))
    order = data.draw(st.permutations(range(len(points))))
    resent = data.draw(st.lists(st.sampled_from(points), max_size=5)) if points else []
    arrivals = [points[i] for i in order] + resent
    acc = DmDtAccumulator(grid, capacity=2)
    position = 0
    for size in [*chunks, len(arrivals)]:
        chunk = arrivals[position : position + size]
        position += size
        if len(chunk) == 1:
            acc.add(*chunk[0])
        elif chunk:
            acc.add_many([p[0] for p in chunk], [p[1] for p in chunk])
    t = [p[0] for p in points]
    m = [p[1] for p in points]
    assert np.array_equal(acc.counts, reference_counts(t, m, grid))
    assert acc.n_points == len(set(points))
    stored_t, stored_m, _ = acc.points()
    assert list(zip(stored_t, stored_m, strict=True)) == sorted(set(points))


@settings(max_examples=100, deadline=None)
@given(points=points_on(SCOPE), with_errors=st.booleans())
def test_byte_encoding_round_trips(points, with_errors):
    acc = DmDtAccumulator(SCOPE)
    if points:
        errors = [0.05] * len(points) if with_errors else None
        acc.add_many([p[0] for p in points], [p[1] for p in points], errors)
    again = DmDtAccumulator.from_bytes(acc.to_bytes(), SCOPE)
    assert np.array_equal(again.counts, acc.counts)
    assert again.n_points == acc.n_points
    for mine, theirs in zip(acc.points(), again.points(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert again.to_bytes() == acc.to_bytes()


@settings(max_examples=100, deadline=None)
@given(points=points_on(SCOPE), data=st.data())
def test_two_part_encoding_round_trips_whatever_order_the_points_were_appended_in(points, data):
    acc = DmDtAccumulator(SCOPE)
    added = [p for p in points if acc.add(p[0], p[1], 0.05)]
    order = data.draw(st.permutations(range(len(added))))
    records = points_bytes(*np.array([added[i] + (0.05,) for i in order]).reshape(-1, 3).T)
    again = DmDtAccumulator.from_parts(records, acc.counts_bytes(), SCOPE)
    assert np.array_equal(again.counts, acc.counts) and again.n_points == acc.n_points
    for mine, theirs in zip(acc.points(), again.points(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_add_new_says_which_points_were_new():
    acc = DmDtAccumulator(CRTS)
    acc.add_many([1.0, 2.0], [15.0, 15.2])
    flags = acc.add_new([2.0, 3.0, 3.0, 0.5], [15.2, 15.1, 15.1, 14.9], [0.1] * 4)
    assert flags.tolist() == [False, True, False, True] and acc.n_points == 4
    assert np.array_equal(acc.counts, CRTS.counts(acc.light_curve()))


def test_two_parts_that_do_not_belong_together_are_refused():
    acc = DmDtAccumulator(CRTS)
    acc.add_many([1.0, 2.0, 5.0], [15.0, 15.2, 15.1], [0.1] * 3)
    points, counts = points_bytes(*acc.points()), acc.counts_bytes()
    with pytest.raises(EncodingError, match="whole number of records"):
        DmDtAccumulator.from_parts(points[:-1], counts, CRTS)
    with pytest.raises(EncodingError, match="counts of 3 points beside 2"):
        DmDtAccumulator.from_parts(points[:48], counts, CRTS)
    with pytest.raises(EncodingError, match="another grid"):
        DmDtAccumulator.from_parts(points, counts, SCOPE)
    with pytest.raises(EncodingError, match="no counts"):
        DmDtAccumulator.from_parts(points, None, CRTS)
    rebuilt = DmDtAccumulator.from_parts(points, None, SCOPE, rebin=True)
    assert np.array_equal(rebuilt.counts, SCOPE.counts(acc.light_curve()))


def test_real_curve_point_by_point_matches_batch(samples):
    curve = read_file(samples / "css_1018079057480-RRab.csv")[0].curve()  # repeated MJDs
    rng = np.random.default_rng(11)
    acc = DmDtAccumulator(CRTS)
    for i in rng.permutation(len(curve)):
        assert acc.add(curve.t[i], curve.mag[i], curve.err[i])
    assert np.array_equal(acc.counts, CRTS.counts(curve))
    np.testing.assert_array_equal(acc.points()[2], curve.err)
    np.testing.assert_allclose(acc.image(), CRTS.counts(curve) * 255 / curve.n_pairs, rtol=1e-6)


def test_resent_point_changes_nothing():
    acc = DmDtAccumulator(CRTS)
    assert acc.add_many([1.0, 2.0, 3.0], [15.0, 15.2, 15.1]) == 3
    before = acc.to_bytes()
    assert acc.add(2.0, 15.2) is False
    assert acc.add_many([3.0, 1.0], [15.1, 15.0]) == 0
    assert acc.to_bytes() == before


def test_encoding_is_compact_and_picks_the_count_width():
    acc = DmDtAccumulator(CRTS)
    acc.add_many(np.arange(10.0), np.full(10, 15.0))
    data = acc.to_bytes()
    header = 24
    assert len(data) == header + 22 * 24 * 1 + 2 * 8 * 10  # counts fit in one byte, no errors
    acc.add_many(np.arange(10.0, 101.0), np.full(91, 15.0), np.full(91, 0.1))
    assert acc.counts.max() > 255
    assert data[5] == 1 and acc.to_bytes()[5] == 2  # count width in bytes


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b[:10], "shorter than"),
        (lambda b: b"XXXX" + b[4:], "bad magic"),
        (lambda b: b[:4] + bytes([9]) + b[5:], "unsupported encoding version 9"),
        (lambda b: b[:5] + bytes([3]) + b[6:], "bad count width 3"),
        (lambda b: b[:-1], "expected"),
        (lambda b: b + b"\0", "expected"),
    ],
)
def test_bad_bytes_are_rejected_precisely(mutate, message):
    acc = DmDtAccumulator(CRTS)
    acc.add_many([1.0, 2.0, 5.0], [15.0, 15.2, 15.1])
    with pytest.raises(EncodingError, match=message):
        DmDtAccumulator.from_bytes(mutate(acc.to_bytes()), CRTS)


def test_counts_from_another_grid_are_refused():
    acc = DmDtAccumulator(CRTS)
    acc.add_many([1.0, 2.0], [15.0, 15.2])
    with pytest.raises(EncodingError, match="another grid"):
        DmDtAccumulator.from_bytes(acc.to_bytes(), SCOPE)


@pytest.mark.parametrize("with_errors", [True, False])
def test_rebin_rebuilds_the_counts_of_another_grid_from_the_points(samples, with_errors):
    curve = read_file(samples / "css_1018079057480-RRab.csv")[0].curve()
    acc = DmDtAccumulator(CRTS)
    acc.add_many(curve.t, curve.mag, curve.err if with_errors else None)
    moved = DmDtAccumulator.from_bytes(acc.to_bytes(), SCOPE, rebin=True)
    assert moved.grid is SCOPE and moved.n_points == acc.n_points
    assert np.array_equal(moved.counts, SCOPE.counts(curve))
    back = DmDtAccumulator.from_bytes(moved.to_bytes(), CRTS, rebin=True)
    assert np.array_equal(back.counts, acc.counts) and back.to_bytes() == acc.to_bytes()
    empty = DmDtAccumulator.from_bytes(DmDtAccumulator(CRTS).to_bytes(), SCOPE, rebin=True)
    assert empty.n_points == 0 and empty.counts.sum() == 0


@pytest.mark.parametrize(
    ("point", "field"),
    [
        ((math.nan, 15.0), "t"),
        ((1.0, math.inf), "mag"),
        ((1.0, 99.0), "mag"),
        ((1.0, 15.0, -1.0), "err"),
        ((2.5e6, 15.0), "t"),
    ],
)
def test_invalid_points_are_rejected_and_state_is_unchanged(point, field):
    acc = DmDtAccumulator(CRTS)
    acc.add_many([1.0, 2.0], [15.0, 15.2])
    before = acc.to_bytes()
    with pytest.raises(LightCurveError) as excinfo:
        acc.add(*point)
    assert excinfo.value.field == field
    with pytest.raises(LightCurveError):
        acc.add_many(
            [point[0], 3.0], [point[1], 15.0], None if len(point) == 2 else [point[2], 0.1]
        )
    assert acc.to_bytes() == before


def test_light_curve_view_of_the_state():
    acc = DmDtAccumulator(CRTS)
    acc.add_many([2.0, 1.0, 3.0], [15.2, 15.0, 15.1], [0.1, 0.2, 0.3])
    lc = acc.light_curve(band="r", object_id="ZTF1")
    assert lc.t.tolist() == [1.0, 2.0, 3.0] and lc.err.tolist() == [0.2, 0.1, 0.3]
    assert np.array_equal(CRTS.counts(lc), acc.counts)


def test_load_kernels_leaves_the_update_kernels_compiled_in_a_fresh_process():
    script = (
        "from classifier import _kernels\n"
        "from classifier.accumulator import load_kernels\n"
        "from classifier.grid import DmDtGrid\n"
        "assert not _kernels.insert_points.signatures\n"
        "load_kernels(DmDtGrid.preset('crts'))\n"
        "print(len(_kernels.insert_points.signatures))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 1


def test_counts_take_the_narrowest_width_and_counts_written_before_widths_still_read():
    acc = DmDtAccumulator(CRTS)
    acc.add_many([1.0, 2.0, 5.0], [15.0, 15.2, 15.1], [0.1] * 3)
    points, counts = points_bytes(*acc.points()), acc.counts_bytes()
    header = 22  # magic, version, width, n_dm, n_dt, fingerprint, n_points
    assert counts[5] == 1 and len(counts) == header + CRTS.shape[0] * CRTS.shape[1]
    # The first two-part counts: width byte 0 and 4-byte counts.
    wide = counts[:5] + b"\x00" + counts[6:header] + acc.counts.astype("<u4").tobytes()
    assert np.array_equal(DmDtAccumulator.from_parts(points, wide, CRTS).counts, acc.counts)
    with pytest.raises(EncodingError, match="count width 3"):
        DmDtAccumulator.from_parts(points, counts[:5] + b"\x03" + counts[6:], CRTS)
    many = DmDtAccumulator(CRTS)  # more than 255 pairs in one bin: two bytes a count
    many.add_many(np.arange(90.0) * 1e-5, np.full(90, 15.0) + 1e-6 * np.arange(90.0))
    assert int(many.counts.max()) > 255 and many.counts_bytes()[5] == 2
    back = DmDtAccumulator.from_parts(points_bytes(*many.points()), many.counts_bytes(), CRTS)
    assert np.array_equal(back.counts, many.counts)
