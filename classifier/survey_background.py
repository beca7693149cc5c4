"""A survey's cadence background as the stream measures it: per survey and band, the decayed
mean of the dm-dt images of the objects it scores.

Mahabal et al. (2017) subtract a survey's mean dm-dt image to show what an object has beyond
its sampling, and suggest survey-specific backgrounds for moving a model between surveys. A
model card carries the backgrounds of its training survey (CSS); a stream of another survey
measures its own, from its own objects, as they are scored: each scored image is added to a
running sum, and older images fade with a half-life of :data:`HALF_LIFE_IMAGES` images, so
the background follows a survey whose cadence changes with the season. Below
:data:`MIN_IMAGES` images the card's ``cadence`` background stands in (a new survey).

The stored document (JSON, updated atomically by the store's script) holds the decayed sum of
the images (``total``, row-major), the decayed number of images (``weight``) and the number
ever added (``images``); the background is ``total / weight``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

HALF_LIFE_IMAGES = 20_000  # an image's weight halves after this many more images
MIN_IMAGES = 100  # a survey background with fewer images is not used (the card's stands in)


def decay(images: float) -> float:
    """The factor an image's weight fades by while ``images`` more are added."""
    return 2.0 ** (-images / HALF_LIFE_IMAGES)


class ImageSum(NamedTuple):
    """Images to add to one background: their sum (each image faded by the images added
    after it), how many, and their weight (the same fading of 1 an image; ``images`` when
    they are added at once)."""

    total: np.ndarray
    images: int
    weight: float


class PendingImages:
    """Scored images kept in memory until they are added to the stored backgrounds in one
    go: per (survey, band), faded as the store fades them, so adding the pending sums once
    gives the backgrounds that adding each batch as it came would have.

    >>> pending = PendingImages()
    >>> pending.add(("ztf", "r"), np.full((1, 1), 2.0), 2)
    >>> pending.add(("ztf", "r"), np.full((1, 1), 1.0), 1)
    >>> ((key, (total, images, weight)),) = pending.take().items()
    >>> key, images, bool(weight < 3), bool(total[0, 0] < 3), pending.take()
    (('ztf', 'r'), 3, True, True, {})
    """

    def __init__(self) -> None:
        self._sums: dict[tuple[str, str], ImageSum] = {}

    def __len__(self) -> int:
        return sum(held.images for held in self._sums.values())

    def add(self, key: tuple[str, str], total: np.ndarray, images: int) -> None:
        """Add the sum of ``images`` images of one survey and band."""
        held = self._sums.get(key)
        if held is None:
            self._sums[key] = ImageSum(total.astype(np.float64), images, float(images))
            return
        fade = decay(images)
        self._sums[key] = ImageSum(
            held.total * fade + total, held.images + images, held.weight * fade + images
        )

    def take(self) -> dict[tuple[str, str], ImageSum]:
        """The pending sums, leaving none."""
        sums, self._sums = self._sums, {}
        return sums


class SurveyBackgroundError(ValueError):
    """A stored background that cannot be read on this grid."""


@dataclass(frozen=True)
class SurveyBackground:
    """One survey and band's background: the decayed sum of images and its weight."""

    survey: str
    band: str
    total: np.ndarray  # (n_dm, n_dt), the decayed sum of images
    weight: float  # the decayed number of images
    images: int  # images ever added

    @property
    def ready(self) -> bool:
        """Enough images to stand for the survey (else the card's background is used)."""
        return self.images >= MIN_IMAGES and self.weight > 0

    def mean(self) -> np.ndarray:
        """The background image, in the model images' units (pair fraction)."""
        if self.weight <= 0:
            raise SurveyBackgroundError(f"{self.survey} {self.band}: no image added yet")
        return (self.total / self.weight).astype(np.float32)

    @classmethod
    def from_json(
        cls, survey: str, band: str, text: str | bytes, shape: tuple[int, int]
    ) -> SurveyBackground:
        """Read a stored document, checked against the grid's ``shape``."""
        try:
            found = json.loads(text)
            stored_shape = tuple(found["shape"])
            total = np.asarray(found["total"], dtype=np.float64)
            weight, images = float(found["weight"]), int(found["images"])
        except (ValueError, KeyError, TypeError) as error:
            raise SurveyBackgroundError(f"{survey} {band}: unreadable ({error})") from None
        if stored_shape != shape or total.size != shape[0] * shape[1]:
            raise SurveyBackgroundError(
                f"{survey} {band}: shape {stored_shape} with {total.size} values, "
                f"the grid's is {shape}"
            )
        return cls(survey, band, total.reshape(shape), weight, images)
