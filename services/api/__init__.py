"""The HTTP API (FastAPI): ``dmdt serve``."""
