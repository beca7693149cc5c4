"""Other surveys' sampling, made from a real light curve by keeping some of its points.

A model trained on one survey learns that survey's cadence (its intra-night lags, point
counts, baselines) as well as the stars. Each :class:`Cadence` here turns a Catalina (CSS)
curve into the curve another survey would have taken of the same star, **only by choosing
among the real points** (a view never invents a phase) and by moving the star into that
survey's magnitude range with that survey's errors:

1. the curve is cut into nights (a gap of more than :data:`NIGHT_GAP_DAYS`); CSS takes 4
   exposures ~10 minutes apart in a visit (a ~28-minute span), about 80 nights over 8 years;
2. a window of the survey's baseline is taken (log-uniform in ``baseline_days``: alert
   histories grow from a month to years), grown when it holds fewer than
   :data:`MIN_POINTS` points;
3. nights are kept (``night_share``, or ``epochs`` of them), and in each kept night one point
   or the night's widest pair (``per_night``);
4. the mean magnitude is moved into the survey's unsaturated range (uniform between
   ``bright + 0.5`` and ``m5 - 1.5``), points fainter than ``m5`` are dropped (the survey
   would not have detected them), and each point's error becomes the survey's error at
   its magnitude, ``sigma^2 = sigma_sys^2 + (0.04 - gamma) x + gamma x^2`` with
   ``x = 10^(0.4 (m - m5))`` (Ivezić et al. 2019, ApJ 873, 111, eq. 4-5). Noise is added
   where the survey is noisier than CSS (``sqrt(sigma^2 - err^2)``); where it is more
   precise the CSS noise stays (it cannot be taken out) and the error reported is CSS's.

What CSS cannot give is said in each family's ``limits``: no survey here can be denser than
CSS's ~80 nights, and Gaia's 106-minute pairs become CSS's widest ~28-minute pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classifier.lightcurve import LightCurve

NIGHT_GAP_DAYS = 0.3
MIN_POINTS = 5
_TINY = 1e-12


@dataclass(frozen=True)
class Cadence:
    """One survey's sampling and photometry, as parameters of a view of a denser curve."""

    name: str
    description: str
    source: str  # where the parameters come from
    limits: str  # what a view of a CSS curve cannot reproduce
    per_night: int  # points kept in a kept night: 1, or 2 (the night's widest pair)
    night_share: float  # share of the window's nights kept (when ``epochs`` is None)
    epochs: tuple[int, int] | None  # else: between these many nights kept
    baseline_days: tuple[float, float]  # window length, log-uniform
    m5: float  # single-visit 5-sigma depth (mag)
    bright: float  # saturation (mag)
    sigma_sys: float  # systematic error floor (mag)
    gamma: float = 0.039  # Ivezić et al. 2019, eq. 5

    def error(self, mag: np.ndarray) -> np.ndarray:
        """The survey's photometric error at ``mag``."""
        x = 10.0 ** (0.4 * (np.asarray(mag, dtype=np.float64) - self.m5))
        random = (0.04 - self.gamma) * x + self.gamma * x**2
        return np.sqrt(self.sigma_sys**2 + np.maximum(random, _TINY))


CSS = Cadence(
    name="css",
    description="Catalina Sky Survey (CSS): 4 exposures ~10 min apart a visit, ~80 nights "
    "over ~8 years; the training curves as they are",
    source="Drake et al. 2009, ApJ 696, 870; Drake et al. 2014, ApJS 213, 9",
    limits="the reference: no change",
    per_night=4,
    night_share=1.0,
    epochs=None,
    baseline_days=(1e5, 1e5),
    m5=19.5,
    bright=11.0,
    sigma_sys=0.05,
)

CADENCES: dict[str, Cadence] = {
    "ztf": Cadence(
        name="ztf",
        description="ZTF public survey: one visit a night per band (g, r) every 1-3 nights, "
        "seasonal gaps; alert histories of 30 days growing to years",
        source="Bellm et al. 2019, PASP 131, 018002 (survey, cadence); Masci et al. 2019, "
        "PASP 131, 018003 (m5 ~20.5 in r, ~0.01 mag floor)",
        limits="no denser than CSS's nights (ZTF revisits every 1-3 nights; CSS every few "
        "weeks): the nightly sampling is CSS's",
        per_night=1,
        night_share=1.0,
        epochs=None,
        baseline_days=(30.0, 3000.0),
        m5=20.5,
        bright=13.0,
        sigma_sys=0.01,
    ),
    "lsst": Cadence(
        name="lsst",
        description="Rubin/LSST wide-fast-deep, one band: pairs of visits ~33 min apart in a "
        "night, irregular revisits of days to weeks, the ~800 visits of 10 years shared by six "
        "bands",
        source="Ivezić et al. 2019, ApJ 873, 111 (m5 24.2 in r, saturation ~16, 0.005 mag "
        "floor); LSST Science Collaboration 2017, arXiv:1708.04058 (visit pairs)",
        limits="pairs are CSS's widest pair of a night (~28 min); revisits no denser than CSS",
        per_night=2,
        night_share=0.5,
        epochs=None,
        baseline_days=(30.0, 3650.0),
        m5=24.2,
        bright=16.0,
        sigma_sys=0.005,
    ),
    "sparse": Cadence(
        name="sparse",
        description="a sparse multi-year ground survey (Pan-STARRS1 3pi-like): one epoch a "
        "night, a few tens of epochs per band over years",
        source="Chambers et al. 2016, arXiv:1612.05560 (PS1 3pi, m5 ~21.8 in r); Sesar et al. "
        "2017, AJ 153, 204 (RR Lyrae from PS1's sparse light curves)",
        limits="none beyond CSS's own nights",
        per_night=1,
        night_share=1.0,
        epochs=(12, 60),
        baseline_days=(1000.0, 3000.0),
        m5=21.8,
        bright=14.0,
        sigma_sys=0.01,
    ),
    "gaia": Cadence(
        name="gaia",
        description="a space scanning law (Gaia-like): pairs of transits 106 min apart, ~50 "
        "epochs over ~3 years",
        source="Gaia Collaboration, Prusti et al. 2016, A&A 595, A1 (scanning law, 106.5 min "
        "between the two fields of view); Eyer et al. 2023, A&A 674, A13 (DR3: ~40-70 "
        "epochs over 34 months)",
        limits="the 106-min pairs become CSS's widest pair of a night (~28 min)",
        per_night=2,
        night_share=1.0,
        epochs=(20, 35),
        baseline_days=(1038.0, 1038.0),
        m5=20.7,
        bright=6.0,
        sigma_sys=0.002,
    ),
    "eros": Cadence(
        name="eros",
        description="EROS LMC survey: about one epoch a night over ~3-7 years, two bands",
        source="Palanque-Delabrouille et al. 1998, A&A 332, 1; Tisserand et al. 2007, A&A "
        "469, 387 (m5 ~20.5, ~0.02 mag floor)",
        limits="no denser than CSS's nights (EROS observed most nights)",
        per_night=1,
        night_share=1.0,
        epochs=None,
        baseline_days=(1000.0, 2500.0),
        m5=20.5,
        bright=13.0,
        sigma_sys=0.02,
    ),
}


def nights(t: np.ndarray) -> list[np.ndarray]:
    """Indices of ``t`` (sorted) grouped by night: a new night after a gap > 0.3 d.

    >>> [n.tolist() for n in nights(np.array([0.0, 0.01, 0.02, 1.0, 1.02, 5.0]))]
    [[0, 1, 2], [3, 4], [5]]
    """
    starts = np.flatnonzero(np.diff(t) > NIGHT_GAP_DAYS) + 1
    return np.split(np.arange(len(t)), starts)


def _window(groups: list[np.ndarray], t: np.ndarray, cadence: Cadence, rng) -> list[np.ndarray]:
    """The nights of one window of the survey's baseline, placed at random inside the
    curve, grown (x1.5) until it holds enough points."""
    low, high = cadence.baseline_days
    length = float(np.exp(rng.uniform(np.log(low), np.log(high)))) if high > low else low
    night_times = np.array([t[g[0]] for g in groups])
    first, last = night_times[0], night_times[-1]
    position = rng.random()
    while True:
        start = first + position * max(last - first - length, 0.0)
        inside = (night_times >= start) & (night_times <= start + length)
        chosen = [g for g, keep in zip(groups, inside, strict=True) if keep]
        if sum(min(len(g), cadence.per_night) for g in chosen) >= 2 * MIN_POINTS or inside.all():
            return chosen
        length *= 1.5


def _kept_nights(chosen: list[np.ndarray], cadence: Cadence, rng) -> list[np.ndarray]:
    if cadence.epochs is not None:
        wanted = int(rng.integers(cadence.epochs[0], cadence.epochs[1] + 1))
    else:
        wanted = round(cadence.night_share * len(chosen))
    needed = -(-MIN_POINTS // cadence.per_night)  # enough nights for MIN_POINTS points
    wanted = min(len(chosen), max(wanted, needed))
    keep = np.sort(rng.choice(len(chosen), wanted, replace=False))
    return [chosen[i] for i in keep]


def _night_points(night: np.ndarray, t: np.ndarray, per_night: int, rng) -> np.ndarray:
    if len(night) <= per_night:
        return night
    if per_night == 1:
        return night[[int(rng.integers(len(night)))]]
    if per_night == 2:  # the widest pair of the night
        return night[[int(np.argmin(t[night])), int(np.argmax(t[night]))]]
    return np.sort(rng.choice(night, per_night, replace=False))


def view(curve: LightCurve, cadence: Cadence, rng: np.random.Generator) -> LightCurve:
    """``curve`` as ``cadence``'s survey would have sampled and measured it (see the module
    text); the CSS cadence, or a curve whose nights are too few to give :data:`MIN_POINTS`
    points this way (non-CSS data), gives the curve back unchanged.

    Examples
    --------
    >>> t = np.concatenate([d + np.arange(4) * 0.007 for d in np.arange(0.0, 3000.0, 30.0)])
    >>> css = LightCurve(t, 15 + 0.3 * np.sin(t), np.full(len(t), 0.05))
    >>> rng = np.random.default_rng(1)
    >>> gaia = view(css, CADENCES["gaia"], rng)
    >>> real_times = set(np.round(t, 6))
    >>> 40 <= len(gaia) <= 70, gaia.baseline <= 1038.1, set(np.round(gaia.t, 6)) <= real_times
    (True, True, True)
    """
    if cadence.name == CSS.name:
        return curve
    groups = nights(curve.t)
    chosen = _kept_nights(_window(groups, curve.t, cadence, rng), cadence, rng)
    keep = np.concatenate([_night_points(g, curve.t, cadence.per_night, rng) for g in chosen])
    keep = np.sort(keep)
    if len(keep) < MIN_POINTS:  # too few nights for this survey's sampling: left as it is
        return curve
    t, mag = curve.t[keep], curve.mag[keep]
    css_err = np.full(len(keep), CSS.sigma_sys) if curve.err is None else curve.err[keep]
    target = rng.uniform(cadence.bright + 0.5, max(cadence.m5 - 1.5, cadence.bright + 0.6))
    mag = mag + (target - float(np.median(mag)))
    detected = mag <= cadence.m5  # fainter points would be non-detections
    if detected.sum() < MIN_POINTS:
        return curve
    t, mag, css_err = t[detected], mag[detected], css_err[detected]
    survey_err = cadence.error(mag)
    added = np.sqrt(np.maximum(survey_err**2 - css_err**2, 0.0))
    mag = mag + rng.normal(0.0, 1.0, len(mag)) * added
    err = np.maximum(survey_err, css_err)
    return LightCurve(t, mag, err, curve.band, curve.object_id)


def survey_views(curves: list[LightCurve], seed: int) -> dict[str, list[LightCurve]]:
    """Every survey's view of each curve, drawn in one fixed order from one ``seed`` (the
    same curves and seed give the same views)."""
    rng = np.random.default_rng(seed)
    return {name: [view(c, cadence, rng) for c in curves] for name, cadence in CADENCES.items()}
