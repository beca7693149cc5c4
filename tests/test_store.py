"""stream.store on a real Redis-protocol server (embedded Valkey, or REDIS_URL)."""

import json
import threading

import numpy as np
import pytest
import redis
from conftest import reference_counts
from redis.crc import key_slot

from classifier.accumulator import DmDtAccumulator
from classifier.grid import DmDtGrid
from classifier.readers import decode_alerts, read_file
from classifier.readers.base import BandPoint
from classifier.survey_background import HALF_LIFE_IMAGES, ImageSum, PendingImages
from stream import keys
from stream.hot_objects import HotObject, HotObjects
from stream.rescoring import LastScoring
from stream.store import AlertPoints, ObjectStore

GRID = DmDtGrid.preset("crts")


def _snapshot(client, object_id):
    return {key: client.dump(key) for key in client.keys(keys.object_key(object_id, "*"))}


def test_a_real_alert_is_stored_per_band_and_a_redelivery_changes_nothing(redis_client, samples):
    (alert,) = decode_alerts((samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes())
    store = ObjectStore(redis_client, GRID)
    first = store.add_points(alert.object_id, alert.band_points(), alert_time=1.0)
    assert first.new_points == {"g": 9, "r": 13} and first.changed
    curves = alert.photometry().curves
    stored = store.load(alert.object_id)
    for band in ("g", "r"):
        assert np.array_equal(stored[band].counts, GRID.counts(curves[band]))
    before = _snapshot(redis_client, alert.object_id)
    assert all("{ZTF17aaacxxf}" in key.decode() for key in before)  # one hash slot
    again = store.add_points(alert.object_id, alert.band_points(), alert_time=2.0)
    assert not again.changed
    assert _snapshot(redis_client, alert.object_id) == before


def _css_points(samples):
    curve = read_file(samples / "css_1018079057480-RRab.csv")[0].curve()
    return curve, [
        BandPoint(i, t, m, e)
        for i, (t, m, e) in enumerate(zip(curve.t, curve.mag, curve.err, strict=True))
    ]


def test_alerts_out_of_order_and_repeated_equal_a_batch_recomputation(redis_client, samples):
    curve, points = _css_points(samples)
    rng = np.random.default_rng(5)
    store = ObjectStore(redis_client, GRID)
    order = rng.permutation(len(points))
    chunks = np.array_split(order, 30)
    for chunk in [*chunks, *chunks[:5]]:  # some alerts delivered twice
        store.add_points("css1", {"V": [points[i] for i in chunk]})
    stored = store.load("css1")["V"]
    assert stored.n_points == len(curve)
    assert np.array_equal(stored.counts, reference_counts(curve.t, curve.mag, GRID))


def test_concurrent_writers_lose_nothing(redis_url, redis_client, samples):
    curve, points = _css_points(samples)
    halves = [points[0::2], points[1::2]]

    def write(half):
        client = redis.Redis.from_url(redis_url)
        store = ObjectStore(client, GRID)
        for i in range(0, len(half), 3):
            store.add_points("shared", {"V": half[i : i + 3]})
        client.close()

    threads = [threading.Thread(target=write, args=(half,)) for half in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stored = ObjectStore(redis_client, GRID).load("shared")["V"]
    assert stored.n_points == len(curve)
    assert np.array_equal(stored.counts, GRID.counts(curve))


def test_unknown_object_loads_empty(redis_client):
    assert ObjectStore(redis_client, GRID).load("nobody") == {}


def test_a_store_on_a_new_grid_rebins_what_the_old_grid_stored(redis_client, samples):
    """A model whose grid changed reads its predecessor's state and carries on."""
    curve, points = _css_points(samples)
    ObjectStore(redis_client, GRID).add_points("regrid", {"V": points[:100]})
    finer = DmDtGrid.preset("crts-fine-dm")
    store = ObjectStore(redis_client, finer)
    assert np.array_equal(store.load("regrid")["V"].counts, finer.counts(curve.first(100)))
    store.add_points("regrid", {"V": points[100:]})
    stored = store.load("regrid")["V"]
    assert stored.n_points == len(curve)
    assert np.array_equal(stored.counts, reference_counts(curve.t, curve.mag, finer))


def test_every_key_of_an_object_shares_one_cluster_slot_whatever_its_id():
    """An id starting with '}' once made the empty tag '{}' (keys in several slots, a
    cross-slot error on Redis Cluster); encoded tags keep one slot and distinct keys."""
    for object_id in ["ZTF18adljlvp", "}x", "a}b{c", "{", "%7Dx", "x" * 300]:
        names = [
            keys.meta(object_id),
            keys.candids(object_id),
            keys.bands(object_id),
            keys.points(object_id, "r"),
            keys.counts(object_id, "r"),
            keys.older(object_id, "r"),
            keys.result(object_id),
            keys.history(object_id),
            keys.coarse_pass(object_id, "r"),
        ]
        assert len({key_slot(name.encode()) for name in names}) == 1, object_id
    assert keys.meta("}x") != keys.meta("%7Dx")
    assert keys.meta("ZTF18adljlvp") == "dmdt:{ZTF18adljlvp}:meta"  # stored layout unchanged


def _stored_state(client, object_id) -> dict:
    """Every key of the object as bytes, ``ver`` aside (it counts writes, not content)."""
    state = {}
    for key in sorted(client.keys(keys.object_key(object_id, "*"))):
        kind = client.type(key)
        if kind == b"hash":
            state[key] = {k: v for k, v in client.hgetall(key).items() if k != b"ver"}
        elif kind == b"set":
            state[key] = sorted(client.smembers(key))
        else:
            state[key] = client.get(key)
    return state


def _compositions(n: int):
    """Every way to cut ``n`` items, in order, into consecutive batches."""
    for cuts in range(1 << (n - 1)):
        sizes, size = [], 1
        for i in range(n - 1):
            if cuts >> i & 1:
                sizes.append(size)
                size = 1
            else:
                size += 1
        yield [*sizes, size]


def test_the_stored_state_does_not_depend_on_batching(redis_client, samples):
    """The same alerts, in the same order, in all 64 batchings: the same bytes stored. The
    alerts hold what made states differ: a candid in two bands, redeliveries, late points,
    an alert with nothing new last, and a band at its cap."""
    (real,) = decode_alerts((samples / "ztf_schema3.2_ZTF17aaacxxf.avro").read_bytes())
    g, r = real.band_points()["g"], real.band_points()["r"]
    alerts = [
        AlertPoints("obj", {"g": g[:4]}, 10.0),
        AlertPoints("obj", {"r": [*r[:3], g[0]]}, 11.0),  # g[0]'s candid again, in r
        AlertPoints("obj", {"r": r[2:9], "g": g[:2]}, 14.0),
        AlertPoints("obj", {"g": g[4:]}, 12.0),  # sent later, older
        AlertPoints("obj", {"r": r}, 15.0),  # runs into the cap of 10
        AlertPoints("obj", {"g": g[:3]}, 16.0),  # nothing new
        AlertPoints("other", {"r": r[:2]}, 13.0),
    ]
    store = ObjectStore(redis_client, GRID, max_points_per_band=10)
    states = {}
    for sizes in _compositions(len(alerts)):
        redis_client.flushdb()
        at = 0
        for size in sizes:
            store.add_alerts(alerts[at : at + size])
            at += size
        states[tuple(sizes)] = (
            _stored_state(redis_client, "obj"),
            _stored_state(redis_client, "other"),
        )
    first = states[(1,) * len(alerts)]
    assert len(states) == 64
    assert all(state == first for state in states.values())
    meta = first[0][keys.meta("obj").encode()]
    assert meta == {b"alerts": b"5", b"last_alert_time": b"15.0"}
    stored = store.load("obj")
    assert stored["r"].n_points == 10 and stored["g"].n_points == len(g)
    assert redis_client.scard(keys.candids("obj")) == 10 + len(g)  # g[0] once, not in r


def _commands(client) -> dict[str, int]:
    return {
        name.removeprefix("cmdstat_"): stats["calls"]
        for name, stats in client.info("commandstats").items()
    }


def test_a_hot_object_costs_one_round_trip_and_moves_only_its_new_point(redis_client, samples):
    curve, points = _css_points(samples)
    store = ObjectStore(redis_client, GRID)
    store.add_points("hot", {"V": points[:100]})
    pipelines = []
    real = redis_client.pipeline

    def counted(*args, **kwargs):
        pipelines.append(1)
        return real(*args, **kwargs)

    redis_client.pipeline = counted
    before = _commands(redis_client)
    length = redis_client.strlen(keys.points("hot", "V"))
    assert store.add_points("hot", {"V": points[100:101]}).new_points == {"V": 1}
    after = _commands(redis_client)
    assert len(pipelines) == 1  # no read: the compare-and-set alone
    assert after.get("get", 0) == before.get("get", 0)
    assert after["append"] == before.get("append", 0) + 1
    assert redis_client.strlen(keys.points("hot", "V")) == length + 24
    redis_client.pipeline = real
    fresh = ObjectStore(redis_client, GRID).load("hot")["V"]  # what Redis holds is exact
    assert np.array_equal(fresh.counts, GRID.counts(curve.first(101)))


def test_what_redis_lost_is_stored_again_whatever_the_cache_remembers(redis_client, samples):
    _, points = _css_points(samples)
    store = ObjectStore(redis_client, GRID)
    store.add_points("lost", {"V": points[:50]})
    redis_client.flushdb()  # a restart without persistence, a failover to a lagging replica
    assert store.add_points("lost", {"V": points[:50]}).new_points == {"V": 50}
    assert store.load("lost")["V"].n_points == 50
    other = ObjectStore(redis_client, GRID)  # another ingest process changes the object
    other.add_points("lost", {"V": points[50:60]})
    assert store.add_points("lost", {"V": points[55:70]}).new_points == {"V": 10}
    stored = store.load("lost")["V"]
    assert stored.n_points == 70
    assert np.array_equal(stored.counts, reference_counts(*stored.points()[:2], GRID))


def test_a_band_in_the_older_one_blob_encoding_is_read_and_rewritten_in_two_parts(
    redis_client, samples
):
    curve, points = _css_points(samples)
    older = DmDtAccumulator(GRID)
    older.add_many(curve.t[:80], curve.mag[:80], curve.err[:80])
    redis_client.set(keys.older("old", "V"), older.to_bytes())
    redis_client.sadd(keys.bands("old"), "V")
    redis_client.sadd(keys.candids("old"), *range(80))
    store = ObjectStore(redis_client, GRID)
    assert store.load("old")["V"].n_points == 80
    assert store.add_points("old", {"V": points[:90]}).new_points == {"V": 10}
    assert not redis_client.exists(keys.older("old", "V"))
    stored = ObjectStore(redis_client, GRID).load("old")["V"]
    assert np.array_equal(stored.counts, GRID.counts(curve.first(90)))


def test_hot_objects_stay_within_their_memory_budget():
    def entry(n: int) -> HotObject:
        acc = DmDtAccumulator(GRID, capacity=n)
        return HotObject(1, set(range(n)), {"r": acc})

    size = entry(100).nbytes()
    hot = HotObjects(max_bytes=3 * size)
    for name in "abcd":
        hot.put(name, entry(100))
        hot.get("a")  # a stays recently used
    assert len(hot) == 3 and hot.get("b") is None and hot.get("a") is not None
    assert hot.nbytes == 3 * size
    hot.put("huge", entry(10_000))  # larger than the whole budget: not kept
    assert hot.get("huge") is None and len(hot) == 3


def _scoring(object_id: str, version: int, label: str) -> str:
    return json.dumps({"object_id": object_id, "label": label, "data_version": version})


def test_a_result_of_an_older_version_never_replaces_a_newer_one(redis_client):
    """Two workers score an object in turn (an alert came while the first scored it); the
    first finishes last. Redis keeps the newer result, and its history gets no stale entry."""
    store = ObjectStore(redis_client, GRID)
    assert (
        store.save_results({"x": _scoring("x", 6, "RRab"), "y": _scoring("y", 1, "EW")}, 2.0) == []
    )
    assert store.save_results({"x": _scoring("x", 5, "EA"), "y": _scoring("y", 1, "EA")}, 3.0) == [
        "x"
    ]
    assert json.loads(redis_client.get(keys.result("x")))["label"] == "RRab"
    assert [
        json.loads(b)["data_version"] for b in redis_client.lrange(keys.history("x"), 0, -1)
    ] == [6]
    assert json.loads(redis_client.get(keys.result("y")))["label"] == "EA"  # same version: written
    assert redis_client.zscore(keys.LATEST, "x") == 2.0
    assert store.save_results({"x": _scoring("x", 7, "RRc")}, 4.0) == []
    assert json.loads(redis_client.get(keys.result("x")))["label"] == "RRc"


def test_read_for_scoring_an_object_comes_with_its_last_scoring_and_coarse_passes(redis_client):
    store = ObjectStore(redis_client, GRID)
    for oid in ("x", "y"):
        store.add_points(
            oid,
            {
                band: [BandPoint(ord(band) * 100 + i, 59000.0 + i, 15.0, 0.1) for i in range(8)]
                for band in "gr"
            },
        )
    (plain,) = store.load_many(["x"])
    assert plain.last_scoring is None and plain.coarse_passes == {}
    x, y, unknown = store.load_many(["x", "y", "z"], for_scoring=True)
    assert x.last_scoring is None and x.coarse_passes == {"g": None, "r": None}
    assert unknown.bands == {} and unknown.coarse_passes == {}
    store.keep_coarse_passes({("x", "r"): b"pass r", ("y", "g"): b"pass g"})
    store.keep_coarse_passes({})
    result = {"data_version": x.version, "scored_at": 1.0, "points_per_band": {"g": 8, "r": 8}}
    store.save_results({"x": json.dumps(result)}, 1.0)
    x, y = store.load_many(["x", "y"], for_scoring=True)
    assert x.coarse_passes == {"g": None, "r": b"pass r"}
    assert y.coarse_passes == {"g": b"pass g", "r": None}
    assert x.last_scoring == LastScoring(x.version, 1.0, 16) and y.last_scoring is None


def test_survey_backgrounds_are_decayed_means_added_side_by_side(redis_client, redis_url):
    """Workers add their batches' image sums to a survey and band's background with an
    atomic script: every addition counts, and older images fade with the half-life."""
    store = ObjectStore(redis_client, GRID)
    assert store.survey_backgrounds() == []
    rng = np.random.default_rng(5)
    first = rng.uniform(0, 0.01, (30, *GRID.shape))
    store.add_to_survey_backgrounds({("ztf", "r"): ImageSum(first.sum(axis=0), 30, 30)})
    (background,) = store.survey_backgrounds()
    assert (background.survey, background.band, background.images) == ("ztf", "r", 30)
    np.testing.assert_allclose(background.mean(), first.mean(axis=0), rtol=1e-5, atol=1e-9)
    assert not background.ready  # fewer than MIN_IMAGES: the card's background stands in

    def add_from_a_worker(seed: int) -> None:
        worker_store = ObjectStore(redis.Redis.from_url(redis_url), GRID)
        images = np.random.default_rng(seed).uniform(0, 0.01, (10, *GRID.shape))
        for image in images:
            worker_store.add_to_survey_backgrounds({("ztf", "r"): ImageSum(image, 1, 1)})

    threads = [threading.Thread(target=add_from_a_worker, args=(s,)) for s in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.add_to_survey_backgrounds({("lsst", "g"): ImageSum(np.ones(GRID.shape), 1, 1)})
    ztf, lsst = sorted(store.survey_backgrounds(), key=lambda b: b.survey, reverse=True)
    assert ztf.images == 70 and ztf.ready is False and lsst.images == 1
    decay = 2.0 ** (-1 / HALF_LIFE_IMAGES)
    assert ztf.weight == pytest.approx(sum(decay**k for k in range(40)) + 30 * decay**40)
    np.testing.assert_allclose(lsst.mean(), 1.0)


def test_images_kept_in_memory_and_added_once_give_the_batch_by_batch_background(redis_client):
    """A worker keeps its batches' images and adds them every second: the stored total
    and weight are those of adding each batch as it came."""
    rng = np.random.default_rng(8)
    batches = [rng.uniform(0, 0.01, (k, *GRID.shape)) for k in (3, 1, 5)]
    one_by_one, pending = ObjectStore(redis_client, GRID), PendingImages()
    for images in batches:
        one_by_one.add_to_survey_backgrounds(
            {("ztf", "r"): ImageSum(images.sum(axis=0), len(images), len(images))}
        )
        pending.add(("lsst", "r"), images.sum(axis=0), len(images))
    assert len(pending) == 9
    one_by_one.add_to_survey_backgrounds(pending.take())
    assert len(pending) == 0
    ztf, lsst = sorted(one_by_one.survey_backgrounds(), key=lambda b: b.survey, reverse=True)
    assert (ztf.images, lsst.images) == (9, 9)
    assert lsst.weight == pytest.approx(ztf.weight, rel=1e-12) and ztf.weight < 9
    np.testing.assert_allclose(lsst.total, ztf.total, rtol=1e-12)


def test_a_stored_background_of_another_grid_is_left_out_then_started_afresh(redis_client, caplog):
    store = ObjectStore(redis_client, GRID)
    key = keys.survey_background(GRID.fingerprint, "ztf", "g")
    redis_client.set(
        key, json.dumps({"shape": [2, 2], "total": [1, 2, 3, 4], "weight": 1, "images": 1})
    )
    redis_client.sadd(keys.survey_backgrounds(GRID.fingerprint), "ztf:g")
    assert store.survey_backgrounds() == []
    assert "left out: ztf g: shape (2, 2) with 4 values, the grid's is (22, 24)" in caplog.text
    store.add_to_survey_backgrounds({("ztf", "g"): ImageSum(np.full(GRID.shape, 0.5), 2, 2)})
    (background,) = store.survey_backgrounds()
    assert background.images == 2
    np.testing.assert_allclose(background.mean(), 0.25)


def test_one_script_call_writes_a_batch_and_retries_only_the_object_changed_meanwhile(
    redis_client, samples
):
    curve, points = _css_points(samples)
    store, other = ObjectStore(redis_client, GRID), ObjectStore(redis_client, GRID)
    names = ["b0", "b1", "b2"]
    store.add_alerts([AlertPoints(name, {"V": points[:40]}) for name in names])
    other.add_points("b1", {"V": points[40:45]})  # b1 changes behind the first store's back
    before = _commands(redis_client).get("evalsha", 0)
    results = store.add_alerts([AlertPoints(name, {"V": points[40:50]}) for name in names])
    # One call for the three objects, then one for b1 alone, read again after its conflict.
    assert _commands(redis_client)["evalsha"] == before + 2
    assert [r.new_points for r in results] == [{"V": 10}, {"V": 5}, {"V": 10}]
    g = [BandPoint(1000 + i, p.mjd, p.mag, p.err) for i, p in enumerate(points[:3])]
    store.add_alerts([AlertPoints(name, {"g": g}) for name in names])
    for name in names:
        assert redis_client.smembers(keys.bands(name)) == {b"V", b"g"}  # g: new to each
        stored = ObjectStore(redis_client, GRID).load(name)
        assert np.array_equal(stored["V"].counts, GRID.counts(curve.first(50)))
        assert stored["g"].n_points == 3
