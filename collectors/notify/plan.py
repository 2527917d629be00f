"""What to tell whom, and when: pure functions from alarms, rules and the log to messages.

* **opened**: the open alarms a rule matches that a channel has not been told of, grouped
  by kind and village; a group goes out once its first alarm is ``group_window`` old, so
  the alarms that follow within the window join the same message ("village X: 30
  inverters offline"). An alarm that closed before it was told is never told.
* **resolved**: the alarms a channel was told of, once closed (grouped the same way, the
  window counted from the first closing).
* **escalated**: an alarm open and unacknowledged for ``escalate_after`` goes to the
  rule's ``escalate_to`` channels, once.
* **quiet hours** (China time): a message made then is due at their end, unless the rule
  is ``urgent``.
* **digest**: once a day at ``at`` (China time), the open alarms per county and kind.

Deduplication is by (alarm, channel, event): ``told`` holds what the log already has, and
the first rule that tells a channel of an alarm wins over later rules naming it too.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from collectors.notify.routes import Digest, QuietHours, Routes, Rule

__all__ = [
    "CHINA",
    "AlarmFact",
    "Outgoing",
    "due_after_quiet",
    "plan_alarms",
    "plan_digest",
]

CHINA = ZoneInfo("Asia/Shanghai")

_WHAT = {
    "offline": "offline",
    "no_output": "without output",
    "fault_code": "in fault",
    "underperforming": "underperforming",
    "misconfigured": "misconfigured",
}


@dataclass(frozen=True)
class AlarmFact:
    """An alarm as the notifier sees it: what, where (codes and public names), when.

    Carries no station name (a household station is named after its owner)."""

    id: int
    kind: str
    station: str
    inverter: str | None
    station_kind: str
    village: str
    village_name: str
    township: str
    county: str
    county_name: str
    reason: str
    opened_at: datetime
    closed_at: datetime | None
    acknowledged_at: datetime | None

    def place(self) -> dict[str, str]:
        """The codes a rule matches on."""
        return {
            "county": self.county,
            "township": self.township,
            "village": self.village,
            "station_kind": self.station_kind,
            "alarm_kind": self.kind,
        }


@dataclass(frozen=True)
class Outgoing:
    """One message to one channel, telling of ``alarm_ids`` (none for a digest)."""

    channel: str
    rule: str
    event: str
    alarm_ids: tuple[int, ...]
    title: str
    body: str
    due_at: datetime
    digest_day: date | None = None


def due_after_quiet(now: datetime, quiet: QuietHours | None, *, urgent: bool) -> datetime:
    """When a message made at ``now`` [UTC] may go: ``now``, or the end of the quiet hours
    it falls in (China time), unless ``urgent``."""
    if quiet is None or urgent:
        return now
    local = now.astimezone(CHINA)
    if not quiet.contains(local.time()):
        return now
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(now.tzinfo)


def _headline(group: list[AlarmFact]) -> str:
    first = group[0]
    units = {a.inverter for a in group if a.inverter}
    n = len(units) if units else len({a.station for a in group})
    noun = ("inverter" if units else "station") + ("" if n == 1 else "s")
    return f"village {first.village_name}: {n} {noun} {_WHAT.get(first.kind, first.kind)}"


def _lines(group: list[AlarmFact], *, closed: bool) -> str:
    out = []
    for a in sorted(group, key=lambda a: (a.opened_at, a.id)):
        at = (a.closed_at if closed and a.closed_at else a.opened_at).astimezone(CHINA)
        device = f"{a.station} {a.inverter}" if a.inverter else a.station
        verb = "closed" if closed else "since"
        out.append(f"- {device}: {a.reason} ({verb} {at:%Y-%m-%d %H:%M} CST, alarm {a.id})")
    return "\n".join(out)


def _grouped(alarms: Iterable[AlarmFact]) -> list[list[AlarmFact]]:
    groups: dict[tuple[str, str], list[AlarmFact]] = defaultdict(list)
    for a in alarms:
        groups[(a.kind, a.village)].append(a)
    return [sorted(g, key=lambda a: (a.opened_at, a.id)) for _, g in sorted(groups.items())]


def _message(
    rule: Rule, channel: str, event: str, group: list[AlarmFact], now: datetime
) -> Outgoing:
    head = _headline(group)
    if event == "opened":
        title, body = head, _lines(group, closed=False)
    elif event == "resolved":
        title, body = f"resolved: {head}", _lines(group, closed=True)
    else:
        hours = (rule.escalate_after or timedelta()).total_seconds() / 3600
        title = f"ESCALATED: {head}, unacknowledged for {hours:g} h"
        body = _lines(group, closed=False)
    return Outgoing(
        channel=channel,
        rule=rule.name,
        event=event,
        alarm_ids=tuple(a.id for a in group),
        title=title,
        body=body,
        due_at=due_after_quiet(now, rule.quiet_hours, urgent=rule.urgent),
    )


def plan_alarms(
    *,
    now: datetime,
    routes: Routes,
    alarms: Iterable[AlarmFact],
    told: set[tuple[int, str, str]],
) -> list[Outgoing]:
    """The messages due to be made at ``now`` [UTC] for ``alarms``, given what the log has
    ``told`` already ((alarm id, channel, event)); ``told`` is extended with them."""
    facts = [a for a in alarms if a.opened_at <= now]
    out: list[Outgoing] = []
    for rule in routes.rules:
        mine = [a for a in facts if rule.matches(a.place())]
        for channel in rule.channels:
            fresh = [
                a for a in mine if a.closed_at is None and (a.id, channel, "opened") not in told
            ]
            ending = [
                a
                for a in mine
                if rule.resolve
                and a.closed_at is not None
                and a.closed_at <= now
                and (a.id, channel, "opened") in told
                and (a.id, channel, "resolved") not in told
            ]
            for event, candidates in (("opened", fresh), ("resolved", ending)):
                for group in _grouped(candidates):
                    start = min(
                        (a.opened_at if event == "opened" else a.closed_at or now) for a in group
                    )
                    if now < start + rule.group_window:
                        continue
                    out.append(_message(rule, channel, event, group, now))
                    told |= {(a.id, channel, event) for a in group}
        if rule.escalate_after is None:
            continue
        late = [
            a
            for a in mine
            if a.closed_at is None
            and a.acknowledged_at is None
            and now >= a.opened_at + rule.escalate_after
        ]
        for channel in rule.escalate_to:
            pending = [a for a in late if (a.id, channel, "escalated") not in told]
            for group in _grouped(pending):
                out.append(_message(rule, channel, "escalated", group, now))
                told |= {(a.id, channel, "escalated") for a in group}
    return out


def plan_digest(
    *,
    now: datetime,
    digest: Digest | None,
    open_alarms: Iterable[AlarmFact],
    sent_days: set[tuple[str, date]],
) -> list[Outgoing]:
    """The daily digest messages due at ``now`` [UTC]: one per digest channel and local
    day, once its time of day has come, unless ``sent_days`` has (channel, day)."""
    if digest is None:
        return []
    local = now.astimezone(CHINA)
    if local.time() < digest.at:
        return []
    day = local.date()
    alarms = [a for a in open_alarms if a.opened_at <= now and a.closed_at is None]
    per_county: dict[str, Counter[str]] = defaultdict(Counter)
    for a in alarms:
        per_county[a.county_name][a.kind] += 1
    lines = [
        f"- {county}: "
        + ", ".join(f"{n} {_WHAT.get(kind, kind)}" for kind, n in sorted(kinds.items()))
        for county, kinds in sorted(per_county.items())
    ] or ["- no open alarms"]
    return [
        Outgoing(
            channel=channel,
            rule="digest",
            event="digest",
            alarm_ids=(),
            title=f"pvmon daily digest {day:%Y-%m-%d}: {len(alarms)} open alarms",
            body="\n".join(lines),
            due_at=now,
            digest_day=day,
        )
        for channel in digest.channels
        if (channel, day) not in sent_days
    ]
