"""Development helpers, not product code: real servers started from PyPI packages
(:mod:`~services.devtools.embedded`), the running-service harness that starts the ``dmdt``
processes on them (:mod:`~services.devtools.harness`), and the demo built on both."""
