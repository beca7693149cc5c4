"""Real non-members of the 7 classes (transients, quasars) as light curves, split stably."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from training.nonmembers import GAIA_TO_MJD, PARTS, part_of, quasars, transient_curve, transients

pytest.importorskip("pyarrow")


def test_parts_come_from_the_name_alone():
    names = [f"object-{i}" for i in range(2000)]
    parts = [part_of(n) for n in names]
    assert parts == [part_of(n) for n in names] and set(parts) == set(PARTS)
    shares = {p: parts.count(p) / len(parts) for p in PARTS}
    assert shares["train"] == pytest.approx(0.6, abs=0.04)
    assert part_of("object-1", seed=1) in PARTS


def test_a_transient_is_its_largest_band_and_telescope_group(tmp_path):
    path = tmp_path / "SN-test.csv"
    rows = ["time,mag,magerr,band,telescope", "1.0,17.0,,,"]
    rows += [f"{2 + i},{17 + 0.1 * i},0.05,V,Swift" for i in range(4)]
    rows += [f"{3 + i},{16 + 0.1 * i},0,R,PTF" for i in range(6)]
    path.write_text("\n".join(rows) + "\n")
    curve = transient_curve(path)
    assert curve is not None and len(curve) == 6 and curve.err is None  # errors of 0: unknown
    assert curve.mag[0] == 16.0
    path.write_text("time,mag,magerr,band,telescope\n1,17,0.1,V,X\n2,17,0.1,V,X\n")
    assert transient_curve(path) is None  # too few points in any group


def test_real_transients_and_quasars_load_per_part(shared_data):
    test_transients = list(transients(shared_data / "transients_osc", "test"))
    assert len(test_transients) > 200
    assert {m.kind for m in test_transients} == {"transient"}
    assert all(part_of(m.name) == "test" for m in test_transients)
    some = list(itertools.islice(quasars(shared_data / "gaia_qso", "val"), 50))
    assert len(some) == 50 and all(m.subtype == "QSO" for m in some)
    assert all(GAIA_TO_MJD + 1000 < m.curve.t[0] < GAIA_TO_MJD + 3000 for m in some)
    assert np.median([len(m.curve) for m in some]) > 30
