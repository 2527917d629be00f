"""Pure planning: quiet hours, grouping windows, deduplication, escalation, digest."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from collectors.notify.plan import AlarmFact, due_after_quiet, plan_alarms, plan_digest
from collectors.notify.routes import Digest, QuietHours, Routes, Rule

CST = ZoneInfo("Asia/Shanghai")
QUIET = QuietHours(time(22), time(7))


def cst(hh: int, mm: int = 0, day: int = 2) -> datetime:
    return datetime(2025, 6, day, hh, mm, tzinfo=CST).astimezone(UTC)


@pytest.mark.parametrize(
    ("now", "urgent", "due"),
    [
        (cst(21, 59), False, cst(21, 59)),
        (cst(22, 0), False, cst(7, 0, day=3)),
        (cst(3, 0), False, cst(7, 0)),
        (cst(7, 0), False, cst(7, 0)),
        (cst(23, 0), True, cst(23, 0)),
    ],
)
def test_quiet_hours(now: datetime, urgent: bool, due: datetime) -> None:
    assert due_after_quiet(now, QUIET, urgent=urgent) == due


def _alarm(i: int, *, opened: datetime, kind: str = "offline", village: str = "V1") -> AlarmFact:
    return AlarmFact(
        id=i, kind=kind, station="S1", inverter=f"INV{i}", station_kind="village",
        village=village, village_name=f"村{village}", township="T1", county="LY",
        county_name="凌源", reason="no answer", opened_at=opened, closed_at=None,
        acknowledged_at=None,
    )  # fmt: skip


ROUTES = Routes(
    channels={"robot": "json://x/y", "mail": "mailto://x"},
    rules=(
        Rule(
            name="r",
            channels=("robot",),
            alarm_kind=frozenset({"offline"}),
            escalate_after=timedelta(hours=2),
            escalate_to=("mail",),
        ),
        Rule(name="again", channels=("robot",)),  # a later rule never tells twice
    ),
)


def test_alarms_within_the_window_go_out_as_one_message_per_village_and_kind() -> None:
    alarms = [
        _alarm(1, opened=cst(10, 0)),
        _alarm(2, opened=cst(10, 1)),
        _alarm(3, opened=cst(10, 1), village="V2"),
        _alarm(4, opened=cst(10, 1), kind="fault_code"),
    ]
    told: set[tuple[int, str, str]] = set()
    assert plan_alarms(now=cst(10, 1), routes=ROUTES, alarms=alarms, told=told) == []
    out = plan_alarms(now=cst(10, 3), routes=ROUTES, alarms=alarms, told=told)
    assert sorted((m.rule, m.alarm_ids) for m in out) == [
        ("again", (4,)),
        ("r", (1, 2)),
        ("r", (3,)),
    ]
    assert "2 inverters offline" in next(m.title for m in out if m.alarm_ids == (1, 2))
    assert plan_alarms(now=cst(10, 4), routes=ROUTES, alarms=alarms, told=told) == []


def test_escalation_spares_acknowledged_alarms_and_happens_once() -> None:
    acked = _alarm(2, opened=cst(8, 0))
    alarms = [_alarm(1, opened=cst(8, 0)), acked.__class__(**{**acked.__dict__,
              "acknowledged_at": cst(8, 30)})]  # fmt: skip
    told = {(1, "robot", "opened"), (2, "robot", "opened")}
    assert plan_alarms(now=cst(9, 59), routes=ROUTES, alarms=alarms, told=told) == []
    out = plan_alarms(now=cst(10, 0), routes=ROUTES, alarms=alarms, told=told)
    assert [(m.channel, m.event, m.alarm_ids) for m in out] == [("mail", "escalated", (1,))]
    assert plan_alarms(now=cst(11, 0), routes=ROUTES, alarms=alarms, told=told) == []


def test_an_alarm_closed_before_it_was_told_is_never_told() -> None:
    closed = _alarm(1, opened=cst(10, 0))
    closed = closed.__class__(**{**closed.__dict__, "closed_at": cst(10, 1)})
    assert plan_alarms(now=cst(10, 5), routes=ROUTES, alarms=[closed], told=set()) == []


@pytest.mark.parametrize(
    ("now", "sent", "expected"),
    [(cst(7, 59), set(), 0), (cst(8, 0), set(), 1), (cst(9, 0), {("mail", cst(9).date())}, 0)],
)
def test_digest_once_a_day_after_its_time(now: datetime, sent: set, expected: int) -> None:
    digest = Digest(at=time(8), channels=("mail",))
    out = plan_digest(now=now, digest=digest, open_alarms=[_alarm(1, opened=cst(1))],
                      sent_days=sent)  # fmt: skip
    assert len(out) == expected
    if out:
        assert out[0].title.endswith("1 open alarms") and "凌源: 1 offline" in out[0].body
