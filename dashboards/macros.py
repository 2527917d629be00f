"""Grafana's SQL macros and template variables, expanded the way Grafana expands them.

Used to run every panel's SQL against a real database in the tests (and by anyone who
wants to paste a panel's query into psql). It implements what the dashboards use,
following Grafana's PostgreSQL datasource (``pkg/tsdb/grafana-postgresql-datasource``)
and its SQL variable formatting:

- ``$__timeFilter(col)`` -> ``col BETWEEN '<from>' AND '<to>'`` (RFC 3339, UTC);
- ``$__timeFrom()`` / ``$__timeTo()`` -> ``'<from>'`` / ``'<to>'``;
- ``$__timeGroup(col, interval)`` -> ``floor(extract(epoch from col)/S)*S`` and
  ``$__timeGroupAlias`` the same ``AS "time"`` (the datasource's TimescaleDB option is
  off, so plain PostgreSQL and TimescaleDB get the same SQL);
- ``$__interval`` -> e.g. ``5m``, ``$__interval_ms`` -> milliseconds;
- ``$var`` / ``${var}``: a single-value variable without *All* is inserted as is; a
  multi-value or *All*-capable one as quoted literals joined by commas; the *All* value
  of a variable with a custom all-value is inserted unquoted.

Anything else that looks like a macro or variable is an error, so a query that uses a
variable its dashboard does not define fails loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pvmon.errors import PvmonError

__all__ = [
    "ALL",
    "MacroError",
    "TimeRange",
    "Variable",
    "expand",
    "parse_interval",
]

ALL = "$__all"
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class MacroError(PvmonError):
    """A query uses a macro or variable that cannot be expanded."""


@dataclass(frozen=True)
class TimeRange:
    """The dashboard's time range and the panel's interval."""

    start: datetime
    end: datetime
    interval: str = "1m"

    @property
    def interval_s(self) -> float:
        """The interval in seconds."""
        return parse_interval(self.interval).total_seconds()


@dataclass(frozen=True)
class Variable:
    """A template variable's definition (as far as formatting goes) and its selection.

    ``values`` are the selected values, or ``[ALL]``; ``options`` are every value the
    variable offers (used for *All* without a custom all-value).
    """

    name: str
    values: list[str]
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    options: list[str] = field(default_factory=list)

    def formatted(self) -> str:
        """The text Grafana puts in the SQL for this variable."""
        values = self.values
        if values == [ALL]:
            if self.all_value is not None:
                return self.all_value
            values = self.options
        if not self.multi and not self.include_all:
            if len(values) != 1:
                raise MacroError(f"variable {self.name} takes one value, got {values!r}")
            return values[0]
        return ",".join(_quote(v) for v in values)


def parse_interval(text: str) -> timedelta:
    """``'5m'`` -> 5 minutes (Grafana's interval syntax, optionally quoted)."""
    match = re.fullmatch(r"\s*'?(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)'?\s*", text)
    if not match:
        raise MacroError(f"cannot parse interval {text!r}")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise MacroError("time range bounds must be timezone-aware")
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _split_args(text: str) -> list[str]:
    """Split macro arguments on top-level commas."""
    args: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
            continue
        depth += char == "("
        depth -= char == ")"
        current.append(char)
    args.append("".join(current).strip())
    return [a for a in args if a]


def _macro_call(sql: str, start: int) -> tuple[str, list[str], int]:
    """At ``sql[start]`` is ``$__name(``: return name, arguments and the end index."""
    open_at = sql.index("(", start)
    name = sql[start + 3 : open_at]
    depth = 0
    for index in range(open_at, len(sql)):
        if sql[index] == "(":
            depth += 1
        elif sql[index] == ")":
            depth -= 1
            if depth == 0:
                return name, _split_args(sql[open_at + 1 : index]), index + 1
    raise MacroError(f"unbalanced parentheses in macro $__{name}")


def _expand_macro(name: str, args: list[str], rng: TimeRange) -> str:
    def group(arguments: list[str]) -> str:
        if len(arguments) < 2:
            raise MacroError(f"$__{name} needs a column and an interval")
        secs = _seconds(parse_interval(arguments[1]).total_seconds())
        return f"floor(extract(epoch from {arguments[0]})/{secs})*{secs}"

    if name == "timeFilter":
        if len(args) != 1:
            raise MacroError("$__timeFilter takes one column")
        return f"{args[0]} BETWEEN '{_rfc3339(rng.start)}' AND '{_rfc3339(rng.end)}'"
    if name == "timeFrom":
        return f"'{_rfc3339(rng.start)}'"
    if name == "timeTo":
        return f"'{_rfc3339(rng.end)}'"
    if name == "timeGroup":
        return group(args)
    if name == "timeGroupAlias":
        return group(args) + ' AS "time"'
    raise MacroError(f"unsupported macro $__{name}")


_TOKEN = re.compile(r"\$__(\w+)\(|\$__interval_ms\b|\$__interval\b|\$\{(\w+)\}|\$(\w+)")


def expand(sql: str, *, time_range: TimeRange, variables: dict[str, Variable]) -> str:
    """Expand Grafana's macros and variables in ``sql`` (see the module docstring)."""
    # First the interval variables and template variables (Grafana interpolates these
    # before the datasource expands its macros), then the macros.
    out: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(sql):
        if match[1] is not None:  # a macro call: left for the second pass
            continue
        out.append(sql[pos : match.start()])
        token = match[0]
        if token == "$__interval_ms":
            out.append(_seconds(time_range.interval_s * 1000))
        elif token == "$__interval":
            out.append(time_range.interval)
        else:
            name = match[2] or match[3]
            if name not in variables:
                raise MacroError(f"unknown variable ${name}")
            out.append(variables[name].formatted())
        pos = match.end()
    out.append(sql[pos:])
    text = "".join(out)

    result: list[str] = []
    pos = 0
    while (start := text.find("$__", pos)) >= 0:
        result.append(text[pos:start])
        name, args, end = _macro_call(text, start)
        result.append(_expand_macro(name, args, time_range))
        pos = end
    result.append(text[pos:])
    return "".join(result)
