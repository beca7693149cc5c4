"""Mahabal et al. (2017) reference figures, and the class codes of Drake et al. (2014)."""

from __future__ import annotations

CLASSES: tuple[str, ...] = ("EW", "EA", "RRab", "RRc", "RRd", "RS_CVn", "LPV")
DRAKE_CODES: dict[str, int] = {
    "EW": 1, "EA": 2, "RRab": 4, "RRc": 5, "RRd": 6, "RS_CVn": 8, "LPV": 13,
}  # fmt: skip
# Figure 3: the diagonal of the row-normalised confusion matrix, percent.
PAPER_RECALL: dict[str, float] = {
    "EW": 94, "EA": 81, "RRab": 53, "RRc": 65, "RRd": 0, "RS_CVn": 13, "LPV": 83,
}  # fmt: skip
# Class sizes of the paper's sample (two-thirds EW), for prior-reweighted accuracy.
PAPER_COUNTS: dict[str, int] = {
    "EW": 30743, "EA": 4683, "RRab": 2420, "RRc": 5469, "RRd": 502, "RS_CVn": 1522, "LPV": 512,
}  # fmt: skip
PAPER_ACCURACY = 0.83
