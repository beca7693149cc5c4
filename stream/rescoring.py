"""When an object is scored again: the rescoring policy the worker applies to what it claims.

Alerts of an object coalesce in the scoring queue already (one entry, the oldest alert's
time). Under load a busy object can still be rescored at every batch for a point or two more;
the policy bounds that work while bounding how stale any answer gets:

* an object never scored is scored now;
* one scored before waits for ``min_new_points`` new points (summed over its bands) *and*
  ``min_interval_s`` since its last scoring (0 new points: any change of the object, a new
  candid of a point already held included, is rescored);
* whatever it waits for, no object's oldest unscored alert waits more than ``max_delay_s``.

An object that is not due is deferred until the earliest moment it will be
(:meth:`stream.scoring_queue.ScoringQueue.defer`), not dropped. The defaults (0 points,
0 s) rescore at every change, as without a policy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LastScoring:
    """What an object's latest result was computed from."""

    version: int
    scored_at: float  # seconds since the epoch
    points: int  # over every band


@dataclass(frozen=True)
class RescoringPolicy:
    min_new_points: int = 0
    min_interval_s: float = 0.0
    max_delay_s: float = 60.0

    def __post_init__(self) -> None:
        if self.min_new_points < 0 or self.min_interval_s < 0 or self.max_delay_s < 0:
            raise ValueError(f"invalid rescoring policy {self}")

    def due_at(self, now: float, alert_time: float, last: LastScoring | None, points: int) -> float:
        """The time the object should be scored at: ``now`` or earlier when due now, later
        when it is to wait (its oldest unscored alert came at ``alert_time``; it holds
        ``points`` now).

        >>> policy = RescoringPolicy(min_new_points=5, min_interval_s=30, max_delay_s=60)
        >>> policy.due_at(100.0, 90.0, None, 3)  # never scored
        100.0
        >>> policy.due_at(100.0, 90.0, LastScoring(1, 80.0, 10), 12)  # 2 new points
        150.0
        >>> policy.due_at(100.0, 90.0, LastScoring(1, 80.0, 10), 15)  # 5 new, 20 s after
        110.0
        """
        if last is None:
            return now
        bound = alert_time + self.max_delay_s
        if points - last.points >= self.min_new_points:
            return min(max(now, last.scored_at + self.min_interval_s), bound)
        return bound
