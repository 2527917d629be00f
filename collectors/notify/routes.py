"""The routing file: channels (apprise URLs) and rules (which alarms go where, when).

A routing file is data (YAML, read with :mod:`pvmon.safeyaml`)::

    channels:
      village-robot: json://hooks.example.invalid/robot/${PVMON_ROBOT_TOKEN}
    rules:
      - name: village-stations
        match: {county: [LY], station_kind: [village, joint], alarm_kind: [offline]}
        channels: [village-robot]
        quiet_hours: "22:00-07:00"   # China time; nothing sent then unless urgent
        urgent: false
        group_window: 2m             # alarms of a kind in a village within it: one message
        escalate_after: 2h           # open and unacknowledged that long: escalate_to, once
        escalate_to: [village-robot]
        resolve: true                # a message when the alarm closes
    digest: {at: "08:00", channels: [village-robot]}

``${NAME}`` in a channel URL is taken from the environment when the file is loaded, so
secrets stay out of the file; every secret is masked (:meth:`Routes.mask`) wherever a URL
or an error is shown. Every problem of the file is reported at once with its key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pvmon.errors import ValidationError
from pvmon.safeyaml import load_yaml, read_text

__all__ = [
    "ALARM_KINDS",
    "STATION_KINDS",
    "Digest",
    "QuietHours",
    "Routes",
    "Rule",
    "load_routes",
    "parse_duration",
    "parse_routes",
]

ALARM_KINDS = ("offline", "no_output", "fault_code", "underperforming", "misconfigured")
STATION_KINDS = ("household", "village", "joint")
_MATCH_KEYS = ("county", "township", "village", "station_kind", "alarm_kind")
_RULE_KEYS = {
    "name",
    "match",
    "channels",
    "quiet_hours",
    "urgent",
    "group_window",
    "escalate_after",
    "escalate_to",
    "resolve",
}
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_duration(text: object) -> timedelta:
    """``"90s"``, ``"2m"``, ``"2h"``, ``"1d"`` (or a number of seconds) as a timedelta."""
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 90s, 2m, 2h or 1d")
    if isinstance(text, int) and text >= 0:
        return timedelta(seconds=text)
    found = _DURATION.match(str(text).strip()) if isinstance(text, str) else None
    if not found:
        raise ValueError(f"{text!r} is no duration: write e.g. 90s, 2m, 2h or 1d")
    return timedelta(seconds=int(found[1]) * _UNITS[found[2]])


def _clock(text: object) -> time:
    found = _CLOCK.match(text) if isinstance(text, str) else None
    if not found:
        raise ValueError(f"{text!r} is no time of day: write HH:MM (China time)")
    return time(int(found[1]), int(found[2]))


@dataclass(frozen=True)
class QuietHours:
    """A span of local (China) time of day, ``start`` to ``end``, possibly across midnight."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        """True when the local time of day ``local`` lies in the quiet hours."""
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class Rule:
    """Which alarms (an empty match list: any) go to which channels, and how."""

    name: str
    channels: tuple[str, ...]
    county: frozenset[str] = frozenset()
    township: frozenset[str] = frozenset()
    village: frozenset[str] = frozenset()
    station_kind: frozenset[str] = frozenset()
    alarm_kind: frozenset[str] = frozenset()
    quiet_hours: QuietHours | None = None
    urgent: bool = False
    group_window: timedelta = timedelta(minutes=2)
    escalate_after: timedelta | None = None
    escalate_to: tuple[str, ...] = ()
    resolve: bool = True

    def matches(self, place: Mapping[str, str]) -> bool:
        """True when the alarm described by ``place`` (county, township, village,
        station_kind, alarm_kind codes) passes every list of the rule's match."""
        return all(
            not getattr(self, key) or place.get(key) in getattr(self, key) for key in _MATCH_KEYS
        )


@dataclass(frozen=True)
class Digest:
    """The daily digest: open alarms per county, at ``at`` China time, to ``channels``."""

    at: time
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Routes:
    """A loaded routing file: channel URLs with their secrets resolved, rules, digest."""

    channels: dict[str, str]
    rules: tuple[Rule, ...]
    digest: Digest | None = None
    secrets: frozenset[str] = field(default_factory=frozenset)

    def mask(self, text: str) -> str:
        """``text`` with every secret of the channels replaced by ``***``."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def _lookup(values: Mapping[str, str], found: re.Match[str]) -> str:
    return values[found[1]]


def _secrets_of(url: str) -> set[str]:
    """The parts of a URL that may be secret: password, user, path and query values."""
    found: set[str] = set()
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    for value in (parts.password, parts.username):
        if value:
            found |= {value, unquote(value)}
    for piece in re.split(r"[/?&=]", parts.path + "?" + parts.query):
        if len(piece) >= 6 and piece not in {"robot", "webhook"}:
            found |= {piece, unquote(piece)}
    return found


def _names(value: object, *, where: str, problems: list[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}: expected a list of names")
        return ()
    return tuple(value)


def _rule(
    raw: object, *, where: str, channels: Mapping[str, str], problems: list[str]
) -> Rule | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping with name, match and channels")
        return None
    before = len(problems)
    for key in sorted(set(raw) - _RULE_KEYS, key=str):
        problems.append(f"{where}.{key}: unknown key (known: {', '.join(sorted(_RULE_KEYS))})")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{where}.name: expected a name of letters, digits, _ . -")
    match = raw.get("match") or {}
    lists: dict[str, frozenset[str]] = {}
    if not isinstance(match, dict):
        problems.append(f"{where}.match: expected a mapping ({', '.join(_MATCH_KEYS)})")
        match = {}
    for key in sorted(set(match) - set(_MATCH_KEYS), key=str):
        problems.append(f"{where}.match.{key}: unknown key (known: {', '.join(_MATCH_KEYS)})")
    for key in _MATCH_KEYS:
        values = _names(match.get(key, []), where=f"{where}.match.{key}", problems=problems)
        known = {"station_kind": STATION_KINDS, "alarm_kind": ALARM_KINDS}.get(key)
        for v in values:
            if known and v not in known:
                problems.append(f"{where}.match.{key}: {v!r} is not one of {', '.join(known)}")
        lists[key] = frozenset(values)
    targets: dict[str, tuple[str, ...]] = {}
    for key in ("channels", "escalate_to"):
        targets[key] = _names(raw.get(key, []), where=f"{where}.{key}", problems=problems)
        for ch in targets[key]:
            if ch not in channels:
                problems.append(f"{where}.{key}: channel {ch!r} is not defined under channels")
    if not targets["channels"]:
        problems.append(f"{where}.channels: name at least one channel")
    parsed: dict[str, Any] = {}
    for key, parse in (("group_window", parse_duration), ("escalate_after", parse_duration)):
        if raw.get(key) is not None:
            try:
                parsed[key] = parse(raw[key])
            except ValueError as exc:
                problems.append(f"{where}.{key}: {exc}")
    if "escalate_after" in parsed and not targets["escalate_to"]:
        problems.append(f"{where}.escalate_to: escalate_after needs channels to escalate to")
    if targets["escalate_to"] and raw.get("escalate_after") is None:
        problems.append(f"{where}.escalate_after: escalate_to needs a time (e.g. 2h)")
    quiet = raw.get("quiet_hours")
    if quiet is not None:
        start, sep, end = str(quiet).partition("-")
        try:
            if not sep:
                raise ValueError(f"{quiet!r}: write HH:MM-HH:MM (China time)")
            parsed["quiet_hours"] = QuietHours(_clock(start.strip()), _clock(end.strip()))
        except ValueError as exc:
            problems.append(f"{where}.quiet_hours: {exc}")
    for key in ("urgent", "resolve"):
        if key in raw and not isinstance(raw[key], bool):
            problems.append(f"{where}.{key}: expected true or false")
    if len(problems) > before:
        return None
    return Rule(
        name=str(name),
        channels=targets["channels"],
        escalate_to=targets["escalate_to"],
        urgent=bool(raw.get("urgent", False)),
        resolve=bool(raw.get("resolve", True)),
        county=lists["county"],
        township=lists["township"],
        village=lists["village"],
        station_kind=lists["station_kind"],
        alarm_kind=lists["alarm_kind"],
        **parsed,
    )


def parse_routes(
    data: object,
    *,
    where: str,
    env: Mapping[str, str],
    check_url: Callable[[str], str | None],
) -> Routes:
    """Routes from the loaded YAML ``data``; ``${NAME}`` from ``env``; ``check_url``
    returns why a URL is unusable (or None). Every problem is raised at once, each with
    ``where`` and its key; no problem message holds a resolved secret."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ValidationError(f"{where}: expected a mapping with channels and rules")
    for key in sorted(set(data) - {"channels", "rules", "digest"}, key=str):
        problems.append(f"{where}: {key}: unknown key (known: channels, rules, digest)")
    raw_channels = data.get("channels")
    channels: dict[str, str] = {}
    secrets: set[str] = set()
    if not isinstance(raw_channels, dict) or not raw_channels:
        problems.append(f"{where}: channels: expected a mapping of name to apprise URL")
        raw_channels = {}
    for name, url in raw_channels.items():
        key = f"{where}: channels.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(f"{key}: expected a name of letters, digits, _ . -")
            continue
        if not isinstance(url, str) or not url.strip():
            problems.append(f"{key}: expected an apprise URL")
            continue
        missing = [m for m in _ENV.findall(url) if not env.get(m)]
        if missing:
            problems.append(f"{key}: environment variable {', '.join(missing)} is not set")
            continue
        values = {m: env[m] for m in _ENV.findall(url)}
        resolved = _ENV.sub(partial(_lookup, values), url.strip())
        found = {v for v in values.values() if v} | _secrets_of(resolved)
        secrets |= found
        why = check_url(resolved)
        if why is not None:
            masked = why
            for secret in sorted(found, key=len, reverse=True):
                masked = masked.replace(secret, "***")
            problems.append(f"{key}: {masked}")
            continue
        channels[name] = resolved
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        problems.append(f"{where}: rules: expected a list of rules")
        raw_rules = []
    rules: list[Rule] = []
    seen: set[str] = set()
    every = {n for n in raw_channels if isinstance(n, str)}
    known = dict.fromkeys(every, "")
    for i, raw in enumerate(raw_rules):
        rule = _rule(raw, where=f"{where}: rules[{i}]", channels=known, problems=problems)
        if rule is not None:
            if rule.name in seen:
                problems.append(f"{where}: rules[{i}].name: {rule.name!r} is given twice")
            seen.add(rule.name)
            rules.append(rule)
    digest = None
    raw_digest = data.get("digest")
    if raw_digest is not None:
        if not isinstance(raw_digest, dict) or set(raw_digest) - {"at", "channels"}:
            problems.append(f"{where}: digest: expected a mapping with at and channels")
        else:
            names = _names(
                raw_digest.get("channels"), where=f"{where}: digest.channels", problems=problems
            )
            for ch in names:
                if ch not in known:
                    problems.append(
                        f"{where}: digest.channels: channel {ch!r} is not defined under channels"
                    )
            try:
                digest = Digest(at=_clock(raw_digest.get("at")), channels=names)
            except ValueError as exc:
                problems.append(f"{where}: digest.at: {exc}")
    if problems:
        raise ValidationError(problems[0], problems)
    return Routes(channels=channels, rules=tuple(rules), digest=digest, secrets=frozenset(secrets))


def load_routes(
    path: Path,
    *,
    env: Mapping[str, str],
    check_url: Callable[[str], str | None],
    max_bytes: int,
) -> Routes:
    """The routing file at ``path`` (at most ``max_bytes`` [bytes]), validated whole."""
    where = str(path)
    return parse_routes(
        load_yaml(read_text(path, max_bytes=max_bytes), where=where),
        where=where,
        env=env,
        check_url=check_url,
    )
