"""The stream's default sizes and times, written once: the constructors of
:mod:`stream` and the ``DMDT_*`` settings (:class:`services.settings.Settings`) read them."""

from typing import Literal

INGEST_BATCH = 500  # most Kafka messages decoded and stored together
MAGNITUDE: Literal["dc", "difference"] = "dc"  # ZTF: store DC (apparent) magnitudes
FETCH_WAIT_MS = 20  # longest a broker may hold an empty fetch (see stream.kafka)
MAX_POINTS_PER_BAND = 5_000  # points stored per object and band; later ones are dropped
HOT_OBJECTS_MB = 256  # memory an ingest process keeps the objects it wrote last in
WORKER_MAX_BATCH = 64  # most objects in one ONNX run
WORKER_MAX_WAIT_MS = 10.0  # longest wait to fill a batch after its first object
RESCORE_MIN_NEW_POINTS = 0  # an object is rescored once it has this many new points...
RESCORE_MIN_INTERVAL_S = 0.0  # ... and this long after its last scoring...
RESCORE_MAX_DELAY_S = 60.0  # ... but no alert waits longer than this for a result
SURVEY_BACKGROUND_FLUSH_S = 1.0  # a worker adds its scored images to the backgrounds this often
CLAIM_LEASE_S = 60.0  # a claim older than this (its worker died) goes back to the queue
