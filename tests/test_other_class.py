"""The class 'other': constant stars on real cadences, and sources split by name."""

from __future__ import annotations

import numpy as np

from classifier.readers import read_file
from training.dataset import Split
from training.nonmembers import part_of
from training.other_class import OtherSources, constant_stars, other_curves


def test_constant_stars_keep_the_real_times_and_errors(samples):
    curves = [read_file(p)[0].curve() for p in sorted(samples.glob("css_*.csv"))]
    stars = constant_stars(curves, 0.5, np.random.default_rng(0))
    assert len(stars) == round(0.5 * len(curves))
    by_id = {c.object_id: c for c in curves}
    for star in stars:
        real = by_id[star.object_id.removeprefix("constant-")]
        assert np.array_equal(star.t, real.t)  # errors too, but repeated times may reorder
        assert np.array_equal(np.sort(star.err), np.sort(real.err))
        # a constant star scatters by its errors alone: far less than the variable's range
        assert np.std(star.mag - np.median(star.mag)) < 2 * np.median(real.err)


def test_other_curves_of_a_part_come_from_that_part_only(shared_data, samples):
    data = shared_data / "crts_css" / "lightcurves"
    names = {p.name: p.name.rsplit("-", 1)[1].removesuffix(".csv") for p in data.glob("*.csv")}
    split = Split.make(names, 2017)
    members = [read_file(p)[0].curve() for p in sorted(samples.glob("css_*.csv"))]
    sources = OtherSources(shared_data / "transients_osc", None, transient_limit=25)
    found = other_curves("val", split, data, members, sources, seed=1)
    assert set(found) == {"css-other-classes", "constant", "transients"}
    assert len(found["transients"]) == 25
    assert all(part_of(c.object_id) == "val" for c in found["transients"])
    css_other = {n.removesuffix(".csv") for n in split.parts["other"] if part_of(n) == "val"}
    assert {c.object_id for c in found["css-other-classes"]} <= {n.split("-")[0] for n in css_other}
