"""stream.scoring_queue on a real Redis-protocol server: coalescing, batches, and claims that
survive a worker killed mid-batch."""

import time

from stream.scoring_queue import QueueState, ScoringQueue


def test_alerts_of_one_object_coalesce_keeping_the_oldest_time(redis_client):
    queue = ScoringQueue(redis_client)
    queue.push({"a": 10.0, "b": 5.0})
    queue.push({"a": 12.0})
    queue.push({"a": 7.0})
    assert queue.depth() == 2
    assert queue.pop_batch(10, max_wait_s=0.0) == [("b", 5.0), ("a", 7.0)]
    assert queue.depth() == 0 and queue.claimed() == 2


def test_a_batch_waits_for_more_objects_up_to_its_size(redis_client):
    queue = ScoringQueue(redis_client)
    queue.push({f"o{i}": float(i) for i in range(5)})
    assert [oid for oid, _ in queue.pop_batch(3, max_wait_s=0.05)] == ["o0", "o1", "o2"]
    started = time.monotonic()
    assert queue.pop_batch(3, max_wait_s=0.0, block_s=0.05) == [("o3", 3.0), ("o4", 4.0)]
    assert queue.pop_batch(3, max_wait_s=0.0, block_s=0.05) == []
    assert time.monotonic() - started >= 0.05


def test_claims_of_a_dead_worker_go_back_to_the_queue(redis_client):
    queue = ScoringQueue(redis_client)
    queue.push({"a": 1.0, "b": 2.0})
    (first,) = queue.pop_batch(1, max_wait_s=0.0)
    queue.acknowledge([first[0]])  # scored and acknowledged
    assert queue.pop_batch(1, max_wait_s=0.0) == [("b", 2.0)]  # ... and the worker dies
    assert queue.requeue_expired(lease_s=60.0) == 0  # still within its lease
    queue.push({"b": 3.0})  # a later alert of the same object meanwhile
    assert queue.requeue_expired(lease_s=0.0) == 1
    assert queue.claimed() == 0
    assert queue.pop_batch(5, max_wait_s=0.0) == [("b", 2.0)]  # the oldest time kept


def test_a_deferred_object_comes_back_when_due_with_its_oldest_alert_time(redis_client):
    queue = ScoringQueue(redis_client)
    queue.push({"busy": 5.0, "other": 6.0})
    claimed = dict(queue.pop_batch(10, max_wait_s=0.0))
    due = time.time() + 0.3
    queue.defer([("busy", claimed["busy"], due)])
    queue.acknowledge(["other"])
    assert queue.claimed() == 0 and queue.state().deferred == 1
    assert queue.state().oldest_alert_time == 5.0  # deferred alerts count in the staleness
    assert queue.pop_batch(10, max_wait_s=0.0, block_s=0.0) == []  # not due yet
    waited = []
    while not (batch := queue.pop_batch(10, max_wait_s=0.0, block_s=0.05)):
        waited.append(time.time())
    assert batch == [("busy", 5.0)] and time.time() >= due
    assert queue.state() == QueueState(0, 0, None)


def test_a_new_alert_of_a_deferred_object_queues_it_as_usual(redis_client):
    queue = ScoringQueue(redis_client, shards=3)
    queue.push({"a": 1.0})
    queue.pop_batch(1, max_wait_s=0.0)
    queue.defer([("a", 1.0, time.time() + 3600)])
    queue.push({"a": 9.0})
    assert queue.pop_batch(5, max_wait_s=0.0) == [("a", 9.0)]
    assert queue.state().deferred == 1  # still deferred too: a result soon, another when due
