"""What the command line treats as the user's mistake: exit status 2 and one line
``dmdt: error: <reason>``, never a traceback."""

from __future__ import annotations

from classifier.bundle import BundleError
from classifier.grid import GridError
from classifier.lightcurve import LightCurveError
from classifier.readers import ReaderError


class UsageError(ValueError):
    """A command-line request that cannot be met (bad option, missing object or band)."""


INPUT_ERRORS = (ReaderError, LightCurveError, GridError, UsageError, BundleError, FileNotFoundError)
