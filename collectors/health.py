"""Inverter health and alarms as pure state transitions.

Each inverter has a state (``online``, ``offline``, ``fault``, ``sleeping``), its last
good reading and its consecutive failures. Alarms are events with an opening and a
closing time and a reason each; the tracker only *decides* them (returns
:class:`AlarmEvent` values) and the service stores them.

- ``offline``: no answer for more than ``offline_after`` in daylight (at night a silent
  logger is ``sleeping``: loggers switch off after sunset, field note 7);
- ``fault_code``: the inverter reports operating state fault (7) or a non-zero event code;
- ``no_output``: (near) zero output in daylight while the village's other inverters
  produce;
- ``underperforming``: output per kW of rating clearly below the village's median for
  a sustained period (a soiled, shaded or degraded array).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["AlarmEvent", "HealthState", "HealthTracker", "InverterInfo", "median_without"]

_FAULT_STATE = 7
_SLEEP_STATES = {1, 2, 8}


@dataclass(frozen=True)
class InverterInfo:
    inverter_id: int
    station_id: int
    village_id: int
    rated_ac_w: float


@dataclass
class HealthState:
    state: str = "unknown"
    since: datetime | None = None
    last_poll_at: datetime | None = None
    last_good_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_power_w: float | None = None
    last_energy_wh: int | None = None
    device_clock_offset_s: float | None = None
    open_alarms: dict[str, datetime] = field(default_factory=dict)
    low_since: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class AlarmEvent:
    """Open (``closed`` False) or close an alarm of ``kind`` for an inverter."""

    inverter_id: int
    station_id: int
    kind: str
    at: datetime
    closed: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


class HealthTracker:
    """Health of every polled inverter; feed it poll outcomes, collect alarm events."""

    def __init__(
        self,
        inverters: Iterable[InverterInfo],
        *,
        offline_after: timedelta = timedelta(minutes=15),
        sustained: timedelta = timedelta(minutes=30),
    ) -> None:
        self.info = {i.inverter_id: i for i in inverters}
        self.states = {i: HealthState() for i in self.info}
        self.offline_after = offline_after
        self.sustained = sustained
        self.events: list[AlarmEvent] = []
        self.dirty: set[int] = set()  # inverters polled since their health was last stored

    def _set_state(self, health: HealthState, state: str, at: datetime) -> None:
        if health.state != state:
            health.state, health.since = state, at

    def _open(
        self,
        inverter_id: int,
        kind: str,
        at: datetime,
        reason: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        health = self.states[inverter_id]
        if kind in health.open_alarms:
            return
        health.open_alarms[kind] = at
        self.events.append(
            AlarmEvent(
                inverter_id,
                self.info[inverter_id].station_id,
                kind,
                at,
                False,
                reason,
                details or {},
            )
        )

    def _close(self, inverter_id: int, kind: str, at: datetime, reason: str) -> None:
        health = self.states[inverter_id]
        if health.open_alarms.pop(kind, None) is None:
            return
        self.events.append(
            AlarmEvent(inverter_id, self.info[inverter_id].station_id, kind, at, True, reason)
        )

    def success(
        self,
        inverter_id: int,
        *,
        at: datetime,
        power_w: float | None,
        energy_wh: int | None,
        state: int | None,
        event_code: int | None,
        clock_offset_s: float | None = None,
    ) -> None:
        """A poll answered."""
        self.dirty.add(inverter_id)
        health = self.states[inverter_id]
        health.last_poll_at = health.last_good_at = at
        health.consecutive_failures = 0
        health.last_error = None
        health.last_power_w = power_w
        if energy_wh is not None:
            health.last_energy_wh = energy_wh
        health.device_clock_offset_s = clock_offset_s
        self._close(inverter_id, "offline", at, "answering again")
        if state == _FAULT_STATE or (event_code or 0) != 0:
            self._set_state(health, "fault", at)
            self._open(
                inverter_id,
                "fault_code",
                at,
                f"inverter reports state {state}, event code {event_code or 0:#x}",
                {"state": state, "event_code": event_code},
            )
            return
        self._close(inverter_id, "fault_code", at, "fault cleared")
        asleep = state in _SLEEP_STATES and not power_w
        self._set_state(health, "sleeping" if asleep else "online", at)

    def failure(self, inverter_id: int, *, at: datetime, error: str, daylight: bool) -> None:
        """A poll failed (refused, timeout, exception, bad frame)."""
        self.dirty.add(inverter_id)
        health = self.states[inverter_id]
        health.last_poll_at = at
        health.consecutive_failures += 1
        health.last_error = error
        if not daylight:
            self._set_state(health, "sleeping", at)
            return
        self._set_state(health, "offline", at)
        silent_since = health.last_good_at or health.since or at
        if at - silent_since >= self.offline_after:
            self._open(
                inverter_id,
                "offline",
                at,
                f"no answer in daylight since {silent_since.isoformat()}: {error}",
                {"error": error, "failures": health.consecutive_failures},
            )

    def evaluate_output(self, *, at: datetime, daylight: dict[int, bool]) -> None:
        """Compare each answering inverter with its village's others (run every few minutes).

        ``daylight`` maps station id to whether the sun is up well enough to expect output.
        """
        by_village: dict[int, list[tuple[int, float]]] = defaultdict(list)
        for inverter_id, health in self.states.items():
            info = self.info[inverter_id]
            if (
                health.state in ("online", "sleeping")
                and health.last_power_w is not None
                and daylight.get(info.station_id, False)
            ):
                by_village[info.village_id].append(
                    (inverter_id, max(health.last_power_w, 0.0) / info.rated_ac_w)
                )
        for members in by_village.values():
            if len(members) < 3:
                continue
            # each inverter against the median of the others: one sort per village
            members.sort(key=lambda member: member[1])
            loads = [load for _, load in members]
            for position, (inverter_id, load) in enumerate(members):
                typical = median_without(loads, position)
                no_output = typical >= 0.2 and load < 0.01
                self._judge(
                    inverter_id,
                    "no_output",
                    at,
                    low=no_output,
                    reason=f"no output while the village's inverters run at {typical:.0%} of rating"
                    if no_output
                    else "",
                )
                under = typical >= 0.2 and 0.01 <= load < 0.5 * typical
                self._judge(
                    inverter_id,
                    "underperforming",
                    at,
                    low=under,
                    reason=f"output {load:.0%} of rating against a village median of {typical:.0%}"
                    if under
                    else "",
                )

    def _judge(self, inverter_id: int, kind: str, at: datetime, *, low: bool, reason: str) -> None:
        health = self.states[inverter_id]
        if low:
            since = health.low_since.setdefault(kind, at)
            if at - since >= self.sustained:
                self._open(inverter_id, kind, at, reason, {"since": since.isoformat()})
        else:
            health.low_since.pop(kind, None)
            self._close(inverter_id, kind, at, "output back in line with the village")

    def drain_events(self) -> list[AlarmEvent]:
        events, self.events = self.events, []
        return events


def median_without(ordered: list[float], position: int) -> float:
    """Median of ``ordered`` (sorted, at least two values) without its value at
    ``position``: what the others show, in O(1) instead of a sort per inverter."""
    remaining = len(ordered) - 1

    def at(index: int) -> float:  # index into the list with ``position`` left out
        return ordered[index if index < position else index + 1]

    middle = remaining // 2
    if remaining % 2:
        return at(middle)
    return (at(middle - 1) + at(middle)) / 2
