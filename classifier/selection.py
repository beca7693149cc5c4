"""Which curve of an object a model scores: the band rule and the minimum-points rule.

Both are used everywhere a curve is chosen or refused (``dmdt image``, ``dmdt predict``,
``POST /classify``, replay, the stream worker), so that one object gets one answer.
"""

from __future__ import annotations

from collections.abc import Mapping

from classifier.lightcurve import LightCurveError

BAND_PREFERENCE = ("r", "g", "i")


class TooFewPointsError(LightCurveError):
    """A curve shorter than the model's minimum."""

    def __init__(self, n_points: int, min_points: int) -> None:
        super().__init__("t", too_few_points(n_points, min_points))
        self.n_points = n_points
        self.min_points = min_points


def too_few_points(n_points: int, min_points: int) -> str:
    """The one message for a curve the model cannot take."""
    return f"{n_points} distinct points; the model needs at least {min_points}"


def require_points(n_points: int, min_points: int) -> None:
    """Raise :class:`TooFewPointsError` unless ``n_points >= min_points``.

    Examples
    --------
    >>> require_points(12, 10)
    >>> require_points(3, 10)
    Traceback (most recent call last):
    ...
    classifier.selection.TooFewPointsError: t: 3 distinct points; the model needs at least 10
    """
    if n_points < min_points:
        raise TooFewPointsError(n_points, min_points)


def scoring_band(points_per_band: Mapping[str, int], min_points: int = 2) -> str | None:
    """The band rule: the band with the most points, once it has ``min_points``; ties go to
    r, then g, then i, then other bands by name. None: no band has enough yet.

    Examples
    --------
    >>> scoring_band({"g": 12, "r": 12, "i": 3}, 10)
    'r'
    >>> scoring_band({"g": 14, "r": 12}, 10)
    'g'
    >>> scoring_band({"g": 4}, 10) is None
    True
    """

    def rank(band: str) -> tuple[int, int, str]:
        order = BAND_PREFERENCE.index(band) if band in BAND_PREFERENCE else len(BAND_PREFERENCE)
        return (-points_per_band[band], order, band)

    eligible = [b for b, n in points_per_band.items() if n >= min_points]
    return min(eligible, key=rank) if eligible else None
