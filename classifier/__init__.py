"""dmdt-stream's domain core, imported by every other package and importing none of them (no
Kafka, Redis, HTTP or torch here):

* light curves and their validation (:mod:`~classifier.lightcurve`), file and alert readers
  (:mod:`~classifier.readers`: ZTF, EROS, CSS, CSV);
* dm-dt binning, batch (:mod:`~classifier.grid`) and incremental
  (:mod:`~classifier.accumulator`), normalisation, images and their pictures;
* model inputs and features, the model bundle format (:mod:`~classifier.bundle`), the bundle
  registry (:mod:`~classifier.registry`), ONNX Runtime inference
  (:mod:`~classifier.inference`);
* the typed classification result (:mod:`~classifier.verdict`), the band and minimum-points
  rules (:mod:`~classifier.selection`), and the defaults shared with the command line and
  training (:mod:`~classifier.defaults`).
"""

from classifier.accumulator import DmDtAccumulator
from classifier.grid import PRESETS, DmDtGrid
from classifier.image import DmDtImage
from classifier.lightcurve import LightCurve, LightCurveError
from classifier.normalise import NORMALISATIONS, normalise

__all__ = [
    "NORMALISATIONS", "PRESETS", "DmDtAccumulator", "DmDtGrid", "DmDtImage", "LightCurve",
    "LightCurveError", "normalise",
]  # fmt: skip
