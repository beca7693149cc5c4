"""The HTTP API (FastAPI), ``dmdt serve``: one router per resource (``routes_*``), the request
and response schemas, shared handles as dependencies (:mod:`~services.api.dependencies`),
ASGI middleware and the API's metrics."""
