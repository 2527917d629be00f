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
from dashboards.macros import expand
from dashboards.reader import PERSONAL_TABLES, grant_reader
from tests.dashboards.conftest import Demo
from tests.dashboards.test_queries import _BOARDS, _range, _variables

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


def test_reader_runs_every_panel_and_variable_query(reader: psycopg.Connection, demo: Demo) -> None:
    """Every dashboard query, expanded as Grafana would, runs as the reader role (so no
    panel reads a closed table or column)."""
    with reader:
        for board, model in _BOARDS.items():
            variables = _variables(model, demo, pick_county=False)
            sqls = [t["rawSql"] for p in model["panels"] for t in p["targets"]]
            sqls += [v["query"] for v in model["templating"]["list"] if v["type"] == "query"]
            for text in sqls:
                reader.execute(
                    expand(text, time_range=_range(board, "long"), variables=variables)
                ).fetchall()


# columns the reader may select that hold text: none names a natural person
_TEXT_ALLOWED = re.compile(
    r"^(code|kind|state|status|reason|close_reason|part|source|component|policy|scheme|"
    r"payee_kind|line_kind|label|unit|model|vendor|protocol|register_map|host|serial|"
    r"period_label|scope_kind|residual_owner|category|revenue_basis|energy_source|method|"
    r"end_reason|coverage|tariff_ref|province|metric|event|severity|message|quality|"
    r"version|filename|checksum|reference|county|township|village|station|inverter|"
    r"description|title|what|basis|scope_codes|payee_role|last_error|framing|key|value|"
    r"step|setting|why|om_contractor|[a-z_]+_code|[a-z_]+_kind)$"  # om_contractor: a company
)
# tables whose ``name`` is a place, a scheme or a code list, never a person
_NAMED = {"counties", "townships", "villages", "operating_states", "schema_migrations"}
_PERSON = re.compile(r"(id_number|bank|account|phone|mobile|contact|person|payee_name|"
                     r"^actor$|_by$|^note$|^detail$|comment|source_file)")  # fmt: skip


def test_reader_sees_no_personal_column(reader: psycopg.Connection, demo: Demo) -> None:
    """Lists every column the reader can select and checks it against the allow-list:
    no name, ID, account or phone of a natural person anywhere."""
    with reader:
        rows = reader.execute(
            """SELECT c.table_name, c.column_name, c.data_type
                 FROM information_schema.columns c
                WHERE c.table_schema = 'public'
                  AND has_column_privilege(current_user,
                        format('public.%I', c.table_name), c.column_name, 'SELECT')"""
        ).fetchall()
    readable = {(t, c): d for t, c, d in rows}
    assert ("readings", "power_w") in readable or any(t == "readings" for t, _ in readable)
    assert not any(t in PERSONAL_TABLES for t, _ in readable)
    assert ("stations", "name") not in readable and ("station_labels", "label") in readable
    wrong = []
    for (table, column), dtype in sorted(readable.items()):
        text = dtype in ("text", "character varying", "ARRAY", "USER-DEFINED")
        if (
            _PERSON.search(column)
            or (text and column == "name" and table not in _NAMED)
            or (text and column != "name" and not _TEXT_ALLOWED.fullmatch(column))
        ):
            wrong.append(f"{table}.{column} ({dtype})")
    assert not wrong, f"Grafana can read columns not on the allow-list: {wrong}"
    # a household station's label carries no household member's name
    with psycopg.connect(demo.url, autocommit=True) as owner:
        pairs = owner.execute(
            "SELECT h.name, sl.label FROM stations s JOIN households h"
            " ON h.id = s.owner_household_id JOIN station_labels sl ON sl.station_id = s.id"
        ).fetchall()
    assert pairs and not any(name in label for name, label in pairs)


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
        "SELECT key_hash FROM api_keys",
        "SELECT name FROM stations",
        "SELECT * FROM stations",
        "SELECT payee_name FROM plan_payout_lines",
        "SELECT approved_by FROM dividend_runs",
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
