"""Processes users run: the ``dmdt`` command line, and (next) the API and inference worker."""
