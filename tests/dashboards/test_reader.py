"""The read-only role Grafana uses: it can SELECT what the dashboards read, write nothing,
and not see personal data."""

from __future__ import annotations

import json
import os
import re
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from dashboards.build import build_all
from dashboards.reader import PERSONAL_TABLES, grant_reader
from tests.dashboards.conftest import Demo

_ROLE = f"pvmon_grafana_t{os.getpid()}"
_PASSWORD = "reader-pw-1"


def _relations_used() -> set[str]:
    """Every table/view name the dashboards' SQL reads (FROM/JOIN targets)."""
    names: set[str] = set()
    for text in build_all().values():
        model = json.loads(text)
        sqls = [t["rawSql"] for p in model["panels"] for t in p["targets"]]
        sqls += [v["query"] for v in model["templating"]["list"] if v["type"] == "query"]
        for sql in sqls:
            names.update(re.findall(r"\b(?:FROM|JOIN)\s+([a-z_]+)(?![\w.]|\s*\()", sql))
    ctes = {"sc", "st", "me", "peers", "inv", "pw", "d", "today", "vs", "runs", "payee"}
    return names - ctes


def _as_reader(url: str) -> str:
    parts = urlsplit(url)
    netloc = f"{_ROLE}:{_PASSWORD}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@pytest.fixture
def reader(demo: Demo) -> psycopg.Connection:
    with psycopg.connect(demo.url, autocommit=True) as admin:
        grant_reader(admin, role=_ROLE, password=_PASSWORD)
        grant_reader(admin, role=_ROLE, password=_PASSWORD)  # idempotent
    return psycopg.connect(_as_reader(demo.url), autocommit=True)


def test_dashboards_read_the_expected_relations() -> None:
    used = _relations_used()
    assert {
        "readings",
        "readings_hourly",
        "station_energy_daily",
        "alarms",
        "inverter_health",
        "dividend_lines",
        "dividend_run_units",
    } <= used
    assert not used & set(PERSONAL_TABLES)


def test_reader_can_select_every_relation_the_dashboards_use(
    reader: psycopg.Connection,
) -> None:
    with reader:
        for name in sorted(_relations_used()):
            reader.execute(f"SELECT * FROM {name} LIMIT 1").fetchall()


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO alarms (station_id, kind, opened_at, reason) "
        "SELECT id, 'offline', now(), 'x' FROM stations LIMIT 1",
        "UPDATE stations SET name = 'x'",
        "DELETE FROM readings",
        "TRUNCATE alarms",
        "CREATE TABLE sneaky (x int)",
        "SELECT id_number FROM households",
        "SELECT * FROM household_poverty_periods",
    ],
)
def test_reader_cannot_write_or_read_personal_data(
    reader: psycopg.Connection, statement: str
) -> None:
    with (
        reader,
        pytest.raises(
            (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)
        ),
    ):
        reader.execute(statement)
