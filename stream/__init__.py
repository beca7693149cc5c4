"""The alert stream, both halves: the Kafka consumer (:mod:`~stream.consumer`), the Redis
store of per-object points, dm-dt counts and results (:mod:`~stream.store`, the only code with
:mod:`~stream.keys`), the scoring queue, the inference worker (:mod:`~stream.worker`), its
results, and their metrics. Both processes run on one lifecycle (:mod:`~stream.lifecycle`):
take -> process -> produce (delivery confirmed, :mod:`~stream.delivery`) -> commit.

Alert decoding lives in :mod:`classifier.readers` so that files and Kafka messages go through
the same code. Imports the core only; never the services or training.
"""
