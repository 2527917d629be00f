"""The routing file: valid files load, every problem of an invalid one is named with its
key, and no resolved secret appears in a problem or a masked URL."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest

from collectors.notify.deliver import check_url
from collectors.notify.routes import QuietHours, load_routes, parse_duration, parse_routes
from pvmon.errors import ValidationError

ENV = {"ROBOT_TOKEN": "tok-123456789", "SMTP_PASSWORD": "pw-987654321"}
GOOD: dict[str, Any] = {
    "channels": {
        "robot": "json://hooks.example.invalid/robot/${ROBOT_TOKEN}",
        "mail": "mailtos://pvmon:${SMTP_PASSWORD}@smtp.example.invalid?to=pv@example.invalid",
    },
    "rules": [
        {
            "name": "all",
            "match": {"station_kind": ["village"], "alarm_kind": ["offline"]},
            "channels": ["robot"],
            "quiet_hours": "22:00-07:00",
            "escalate_after": "2h",
            "escalate_to": ["mail"],
        }
    ],
    "digest": {"at": "08:00", "channels": ["mail"]},
}


def _parse(data: Any, env: dict[str, str] = ENV) -> Any:
    return parse_routes(data, where="routes.yaml", env=env, check_url=check_url)


def test_a_good_file_resolves_env_and_masks_its_secrets() -> None:
    routes = _parse(GOOD)
    assert routes.channels["robot"] == "json://hooks.example.invalid/robot/tok-123456789"
    assert routes.rules[0].escalate_after == timedelta(hours=2)
    assert routes.rules[0].quiet_hours == QuietHours(time(22), time(7))
    assert routes.digest is not None and routes.digest.at == time(8)
    for url in routes.channels.values():
        masked = routes.mask(url)
        assert "tok-123456789" not in masked and "pw-987654321" not in masked


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"channels": {}}, "channels: expected a mapping"),
        ({"channels": {"robot": "nope"}}, "channels.robot: expected an apprise URL"),
        ({"channels": {"robot": "zzz://x/y"}}, "channels.robot: apprise cannot use"),
        ({"channels": {"robot": "json://h/${MISSING}"}}, "MISSING is not set"),
        ({"rules": []}, "rules: expected a list"),
        ({"rules": [{"name": "r", "channels": ["nobody"]}]}, "channel 'nobody' is not defined"),
        ({"rules": [{"name": "r", "channels": ["robot"], "colour": 1}]}, "colour: unknown key"),
        (
            {"rules": [{"name": "r", "channels": ["robot"], "match": {"alarm_kind": ["fire"]}}]},
            "'fire' is not one of",
        ),
        (
            {"rules": [{"name": "r", "channels": ["robot"], "quiet_hours": "22-7"}]},
            "rules[0].quiet_hours",
        ),
        (
            {"rules": [{"name": "r", "channels": ["robot"], "escalate_after": "2h"}]},
            "escalate_after needs channels",
        ),
        (
            {"rules": [{"name": "r", "channels": ["robot"], "group_window": "soon"}]},
            "rules[0].group_window: 'soon' is no duration",
        ),
        ({"digest": {"at": "25:00", "channels": ["mail"]}}, "digest.at"),
        ({"extra": 1}, "extra: unknown key"),
    ],
)
def test_each_problem_is_named_with_its_key(change: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _parse({**GOOD, **change})
    assert any(expected in p and p.startswith("routes.yaml") for p in caught.value.problems), (
        caught.value.problems
    )
    assert not any("tok-123456789" in p or "pw-987654321" in p for p in caught.value.problems)


def test_every_problem_is_reported_at_once() -> None:
    bad = {
        "channels": {"robot": "zzz://${ROBOT_TOKEN}/x"},
        "rules": [{"name": "a b", "channels": []}],
    }
    with pytest.raises(ValidationError) as caught:
        _parse(bad)
    assert len(caught.value.problems) == 3
    assert not any("tok-123456789" in p for p in caught.value.problems)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", timedelta(seconds=90)), ("2m", timedelta(minutes=2)), ("1d", timedelta(days=1)),
     (30, timedelta(seconds=30))],
)  # fmt: skip
def test_durations(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["2", "-1m", "2 weeks", True, None, 1.5])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_yaml_aliases_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text("channels: &c {a: json://h/x}\nrules: *c\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="anchors and aliases"):
        load_routes(path, env={}, check_url=check_url, max_bytes=10_000)
