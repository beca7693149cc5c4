"""What users run, by audience: the HTTP API (:mod:`services.api`), the ``dmdt`` command line
(:mod:`services.cli`, one module per command), the ``DMDT_*`` settings
(:mod:`services.settings`), and the development helpers (:mod:`services.devtools`: embedded
servers, the running-service harness, the demo) kept apart from the product code."""
