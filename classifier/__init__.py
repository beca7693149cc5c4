"""dmdt-stream's domain core: light curves, dm-dt binning (batch and incremental),
normalisation and file readers. Imports none of the other packages; no Kafka, Redis, HTTP or
torch here."""

from classifier.accumulator import DmDtAccumulator
from classifier.grid import PRESETS, DmDtGrid
from classifier.image import DmDtImage
from classifier.lightcurve import LightCurve, LightCurveError
from classifier.normalise import NORMALISATIONS, normalise

__all__ = [
    "NORMALISATIONS", "PRESETS", "DmDtAccumulator", "DmDtGrid", "DmDtImage", "LightCurve",
    "LightCurveError", "normalise",
]  # fmt: skip
