"""Repeated warnings: the first at once, then one line a minute with the counts."""

from __future__ import annotations

import logging

import pytest

from pvmon.logs import Throttled


def test_a_flood_becomes_one_line_a_minute(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    now = [1000.0]
    monkeypatch.setattr("pvmon.logs.time.monotonic", lambda: now[0])
    throttled = Throttled(logging.getLogger("t"), "poll cycles overran")
    caplog.set_level(logging.WARNING)
    throttled.add("127.0.0.1:502")  # the first: at once
    for second in range(600):  # ten minutes of overruns, ten a second
        now[0] = 1000.0 + second
        for endpoint in ("127.0.0.1:502", "127.0.0.1:503"):
            throttled.add(endpoint, 5, detail="still running")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 10  # the first, then one a minute
    assert lines[0] == "poll cycles overran: 1 (127.0.0.1:502) since the last report, 1 in all"
    assert lines[1] == (
        "poll cycles overran: 305 (127.0.0.1:502), 300 (127.0.0.1:503) since the last report, "
        "606 in all; last: still running"
    )
    assert throttled.total == {"127.0.0.1:502": 3001, "127.0.0.1:503": 3000}


def test_apschedulers_own_line_per_overrun_is_left_to_the_collector(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from collectors.service import _quiet_apscheduler_overruns

    _quiet_apscheduler_overruns()
    _quiet_apscheduler_overruns()  # idempotent
    scheduler = logging.getLogger("apscheduler.scheduler")
    caplog.set_level(logging.WARNING)
    scheduler.warning(
        'Execution of job "x" skipped: maximum number of running instances reached (1)'
    )
    scheduler.warning("Run time of job x was missed by 0:00:05")
    assert [r.getMessage() for r in caplog.records] == ["Run time of job x was missed by 0:00:05"]
