"""Behaviour of the endpoints: error shape, filters, pagination, series, alarms, masking,
four-eyes approval, exports, adjustments, payment, statements, schedules, keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pvmon.api.auth import authenticate, create_key, ensure_demo_key, hash_key
from pvmon.api.deps import Conn
from tests.pvmon.api.conftest import ApiWorld

PROBLEM = "application/problem+json"


def _h(world: ApiWorld, key: str) -> dict[str, str]:
    return {"X-API-Key": world.keys[key]}


def test_401_is_a_problem_with_a_challenge(client: TestClient, world: ApiWorld) -> None:
    for headers in ({}, {"X-API-Key": "pvk_nope"}, {"X-API-Key": world.keys["revoked"]}):
        r = client.get("/v1/stations", headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"] == PROBLEM
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["status"] == 401


def test_validation_errors_name_the_field(client: TestClient, world: ApiWorld) -> None:
    r = client.get(
        f"/v1/stations/{world.station}/series", params={"bucket": "2h"}, headers=_h(world, "admin")
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert [e["field"] for e in r.json()["errors"]] == ["query.bucket"]
    r = client.get("/v1/stations", params={"limit": 0}, headers=_h(world, "admin"))
    assert r.json()["errors"][0]["field"] == "query.limit"
    r = client.get("/v1/nowhere", headers=_h(world, "admin"))
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM


def test_fleet_summary_and_county_limit(client: TestClient, world: ApiWorld) -> None:
    full = client.get("/v1/fleet/summary", headers=_h(world, "viewer")).json()
    xx = client.get("/v1/fleet/summary", headers=_h(world, "viewer_xx")).json()
    assert xx["county"] == "XX" and xx["stations"] == 1 and xx["inverters"] == 1
    assert full["stations"] > xx["stations"]
    assert sum(full["inverters_by_state"].values()) == full["inverters"]
    assert sum(full["stations_by_state"].values()) == full["stations"]
    e = full["energy"]
    assert e["year_wh"] >= e["month_wh"] >= e["today_wh"] >= 0
    assert 0 < full["online_ratio"] < 1  # XX's inverter has no health row
    assert full["as_of"].endswith("Z") or full["as_of"].endswith("+00:00")


def test_station_list_filters_and_pages(client: TestClient, world: ApiWorld) -> None:
    h = _h(world, "viewer")
    page = client.get("/v1/stations", params={"limit": 5, "offset": 2}, headers=h).json()
    assert page["limit"] == 5 and page["offset"] == 2 and len(page["items"]) == 5
    everything = client.get("/v1/stations", params={"limit": 1000}, headers=h).json()
    assert page["total"] == everything["total"] == len(everything["items"])
    assert page["items"] == everything["items"][2:7]
    villages = client.get("/v1/stations", params={"kind": "village"}, headers=h).json()
    assert villages["items"] and all(s["kind"] == "village" for s in villages["items"])
    xx = client.get("/v1/stations", headers=_h(world, "viewer_xx")).json()
    assert [s["code"] for s in xx["items"]] == [world.other_station]


def test_station_detail(client: TestClient, world: ApiWorld) -> None:
    s = client.get(f"/v1/stations/{world.station}", headers=_h(world, "viewer")).json()
    assert s["code"] == world.station and len(s["inverter_list"]) == 1
    assert s["inverter_list"][0]["latest"]["energy_wh"] > 0
    assert s["expected_vs_actual"]["expected_kwh"] > 0
    assert s["energy_today_kwh"] * 1000 == s["energy_today_wh"]
    r = client.get(f"/v1/stations/{world.other_station}", headers=_h(world, "viewer_ly"))
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM


def test_series_buckets_agree(client: TestClient, world: ApiWorld) -> None:
    """Counter differences telescope: 5-min, 15-min and hourly sums over the same
    hour-aligned range are the same energy."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=30)
    sums = {}
    for bucket in ("5min", "15min", "1h"):
        r = client.get(
            f"/v1/stations/{world.station}/series",
            params={"bucket": bucket, "start": start.isoformat(), "end": end.isoformat()},
            headers=_h(world, "viewer"),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["source"] == ("energy_hourly" if bucket == "1h" else "readings")
        sums[bucket] = sum(p["energy_wh"] for p in body["points"])
    assert sums["5min"] == sums["15min"] == sums["1h"] > 0
    daily = client.get(
        f"/v1/inverters/{world.inverter}/series",
        params={"bucket": "1d"},
        headers=_h(world, "viewer"),
    ).json()
    assert daily["source"] == "energy_daily" and sum(p["energy_wh"] for p in daily["points"]) > 0
    too_many = client.get(
        f"/v1/stations/{world.station}/series",
        params={"bucket": "5min", "start": "2001-01-01T00:00:00Z"},
        headers=_h(world, "viewer"),
    )
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "query.bucket"


def test_alarms_filter_and_acknowledge(client: TestClient, world: ApiWorld) -> None:
    h = _h(world, "operator")
    opened = client.get("/v1/alarms", params={"status": "open"}, headers=h).json()
    assert {a["id"] for a in opened["items"]} >= {world.alarm_ly, world.alarm_xx}
    xx = client.get("/v1/alarms", headers=_h(world, "viewer_xx")).json()
    assert [a["id"] for a in xx["items"]] == [world.alarm_xx]
    r = client.post(
        f"/v1/alarms/{world.alarm_xx}/acknowledge",
        json={"comment": "x"},
        headers=_h(world, "viewer"),
    )
    assert r.status_code == 403
    r = client.post(
        f"/v1/alarms/{world.alarm_xx}/acknowledge",
        json={"comment": "crew sent"},
        headers=_h(world, "operator_xx"),
    )
    assert r.status_code == 200
    assert r.json()["acknowledged_by"] == "operator_xx"
    assert r.json()["ack_comment"] == "crew sent"
    acked = client.get("/v1/alarms", params={"acknowledged": True}, headers=h).json()
    assert world.alarm_xx in {a["id"] for a in acked["items"]}
    r = client.post(f"/v1/alarms/{world.alarm_xx}/acknowledge", json={}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.comment"


def test_personal_data_masked_unless_role_permits(client: TestClient, world: ApiWorld) -> None:
    url = f"/v1/households/{world.other_household}"
    masked = client.get(url, headers=_h(world, "viewer")).json()
    clear = client.get(url, headers=_h(world, "finance")).json()
    assert masked["masked"] and not clear["masked"]
    assert clear["id_number"] == "21138219900307123X"
    assert masked["id_number"] == "2113**********123X"
    assert masked["bank_account"].endswith("7890") and "*" in masked["bank_account"]
    assert masked["name"] == "李*" and clear["name"] == "李四"
    # the household station named after 李四 shows its village and code to a viewer
    for role, revealed in (("viewer", False), ("operator", False), ("finance", True)):
        for path in ("/v1/stations/XX-H1", "/v1/stations?county=XX"):
            body = client.get(path, headers=_h(world, role)).json()
            names = [i["name"] for i in body.get("items", [body]) if i["code"] == "XX-H1"]
            assert names and ("李四" in names[0]) == revealed, (role, path, names)
            assert revealed or names[0].endswith("户用电站 XX-H1"), names


def test_runs_four_eyes_exports_statement(client: TestClient, world: ApiWorld) -> None:
    run = client.get(f"/v1/runs/{world.run_id}", headers=_h(world, "finance")).json()
    assert run["status"] == "draft" and run["created_by"] == "clerk"
    assert run["paid_yuan"] == f"{run['paid_fen'] // 100}.{run['paid_fen'] % 100:02d}"
    r = client.post(f"/v1/runs/{world.run_id}/bank-file", headers=_h(world, "finance"))
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    r = client.post(f"/v1/runs/{world.run_id}/approve", headers=_h(world, "clerk"))
    assert r.status_code == 403 and "may not approve it" in r.json()["detail"]
    r = client.post(f"/v1/runs/{world.run_id}/approve", headers=_h(world, "finance"))
    assert r.status_code == 200, r.text
    assert r.json()["approved_by"] == "finance" and r.json()["status"] == "approved"
    assert (
        client.post(f"/v1/runs/{world.run_id}/approve", headers=_h(world, "admin")).status_code
        == 409
    )
    csv = client.get(f"/v1/runs/{world.run_id}/export", headers=_h(world, "finance"))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    xlsx = client.get(
        f"/v1/runs/{world.run_id}/export", params={"format": "xlsx"}, headers=_h(world, "finance")
    )
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    for role in ("viewer", "operator"):
        denied = client.post(f"/v1/runs/{world.run_id}/bank-file", headers=_h(world, role))
        assert denied.status_code == 403, denied.text
    before = client.get(f"/v1/runs/{world.run_id}", headers=_h(world, "finance")).json()
    assert before["status"] == "approved"
    bank = client.post(f"/v1/runs/{world.run_id}/bank-file", headers=_h(world, "finance"))
    assert bank.status_code == 200 and "合计" in bank.content.decode("utf-8-sig")
    assert len(bank.headers["x-pvmon-sha256"]) == 64
    again = client.post(
        f"/v1/runs/{world.run_id}/bank-file",
        params={"layout": "cn-batch-xlsx"},
        headers=_h(world, "finance"),
    )
    assert again.status_code == 200 and again.content[:2] == b"PK"
    for bad in ("nope", "../../etc/passwd"):
        r = client.post(
            f"/v1/runs/{world.run_id}/bank-file", params={"layout": bad}, headers=_h(world, "admin")
        )
        assert r.status_code == 422, r.text
    after = client.get(f"/v1/runs/{world.run_id}", headers=_h(world, "finance")).json()
    assert after["status"] == "exported"
    stmt = client.get(
        f"/v1/households/{world.household}/statement", headers=_h(world, "finance")
    ).json()
    year = next(y for y in stmt["years"] if y["year"] == 2024)
    assert year["expected_fen"] == 110_000 and year["paid_fen"] == 110_000
    assert year["lines"][0]["run_id"] == world.run_id and year["lines"][0]["amount_yuan"]
    lines = client.get(
        f"/v1/runs/{world.run_id}/lines", params={"limit": 3}, headers=_h(world, "finance")
    ).json()
    assert len(lines["items"]) == 3 and lines["total"] == run["lines"]
    runs_xx = client.get("/v1/runs", headers=_h(world, "finance_xx")).json()
    assert runs_xx["total"] == 0


def test_create_run_records_creator(client: TestClient, world: ApiWorld) -> None:
    r = client.post(
        "/v1/runs",
        json={"period": "2024", "scope_kind": "county", "scope_codes": ["XX"]},
        headers=_h(world, "finance_xx"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["created_by"] == "finance_xx"
    r = client.post(
        "/v1/runs", json={"period": "2024", "scope_kind": "all"}, headers=_h(world, "finance_xx")
    )
    assert r.status_code == 403


def test_schedule_and_enrolments(client: TestClient, world: ApiWorld) -> None:
    s = client.get(f"/v1/stations/{world.station}/schedule", headers=_h(world, "finance")).json()
    assert len(s["years"]) == 25 and s["years"][0]["obligations_fen"] == 110_000
    e = client.get(
        "/v1/enrolments", params={"household": world.household}, headers=_h(world, "finance")
    ).json()
    assert e["total"] == 1 and e["items"][0]["scheme"] == "household_own"


def test_openapi_is_complete(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert client.get("/docs").status_code == 200
    assert "Problem" in spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), f"{method} {path}: no summary"
            if path != "/health":
                assert op.get("security"), f"{method} {path}: no security"
                assert PROBLEM in op["responses"]["401"]["content"]


def test_keys_are_hashed_and_demo_key_rotates(world: ApiWorld) -> None:
    with psycopg.connect(world.url, autocommit=True) as conn:
        first = ensure_demo_key(conn)
        assert authenticate(conn, first).role == "admin"
        second = ensure_demo_key(conn)
        assert authenticate(conn, second).name == "demo"
        stored = [r[0] for r in conn.execute("SELECT key_hash FROM api_keys")]
        assert hash_key(second) in stored and second not in stored
        try:
            authenticate(conn, first)
            raise AssertionError("rotated key still accepted")
        except Exception as exc:
            assert type(exc).__name__ == "AuthError"


def test_cli_keys(world: ApiWorld, monkeypatch: object) -> None:
    from pvmon.cli import app

    monkeypatch.setenv("PVMON_DATABASE_URL", world.url)  # type: ignore[attr-defined]
    runner = CliRunner()
    r = runner.invoke(app, ["keys", "create", "cli-key", "--role", "operator", "--county", "XX"])
    assert r.exit_code == 0, r.output
    plain = r.output.split()[-1]
    assert plain.startswith("pvk_")
    r = runner.invoke(app, ["keys", "list"])
    assert "cli-key" in r.output and "operator" in r.output
    assert runner.invoke(app, ["keys", "revoke", "cli-key"]).exit_code == 0
    assert runner.invoke(app, ["keys", "revoke", "cli-key"]).exit_code == 1
    r = runner.invoke(app, ["keys", "create", "bad", "--role", "root"])
    assert r.exit_code == 1


def test_adjustment_and_paid_lifecycle(client: TestClient, world: ApiWorld) -> None:
    """draft → approved → (adjusted by a new run) → exported → paid, and every wrong step
    a 409 problem naming the run."""
    fin, clerk = _h(world, "finance"), _h(world, "finance_xx")
    r = client.post(
        "/v1/runs",
        json={"period": "2024", "scope_kind": "stations", "scope_codes": [world.other_station]},
        headers=clerk,
    )
    assert r.status_code == 201, r.text
    run = r.json()
    run_id = run["id"]
    assert run["kind"] == "regular" and run["corrects_run_id"] is None
    assert run["exported_at"] is None and run["paid_at"] is None
    for path, body in (("adjustments", {"note": "too early"}), ("mark-paid", None)):
        r = client.post(f"/v1/runs/{run_id}/{path}", json=body, headers=fin)
        assert r.status_code == 409 and r.headers["content-type"] == PROBLEM, (path, r.text)
        assert f"run {run_id}" in r.json()["detail"]
    assert client.post(f"/v1/runs/{run_id}/approve", headers=fin).status_code == 200
    r = client.post(f"/v1/runs/{run_id}/mark-paid", headers=fin)
    assert r.status_code == 409 and "exported" in r.json()["detail"]  # no bank file yet

    # the household left poverty mid-year: the approved run is corrected by a new run
    with psycopg.connect(world.url, autocommit=True) as conn:
        conn.execute(
            "UPDATE dividend_enrolments SET ends_on = '2024-07-01', end_reason = 'left_poverty'"
            " WHERE household_id = (SELECT id FROM households WHERE file_no = %s)",
            (world.other_household,),
        )
    url = f"/v1/runs/{run_id}/adjustments"
    assert client.post(url, json={"note": "x"}, headers=_h(world, "finance_ly")).status_code == 403
    assert client.post(url, json={"note": "x"}, headers=_h(world, "viewer_xx")).status_code == 403
    r = client.post("/v1/runs/999999/adjustments", json={"note": "x"}, headers=fin)
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    r = client.post(url, json={}, headers=fin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.note"
    r = client.post(url, json={"note": "left poverty 2024-07-01"}, headers=clerk)
    assert r.status_code == 201, r.text
    adj = r.json()
    assert adj["kind"] == "adjustment" and adj["corrects_run_id"] == run_id
    assert adj["status"] == "draft" and adj["created_by"] == "finance_xx"
    assert adj["note"] == "left poverty 2024-07-01" and adj["period_label"] == "2024"
    lines = client.get(f"/v1/runs/{adj['id']}/lines", headers=fin).json()["items"]
    assert {line["line_kind"] for line in lines} == {"reversal", "correction"}
    reversal = next(line for line in lines if line["line_kind"] == "reversal")
    correction = next(line for line in lines if line["line_kind"] == "correction")
    assert reversal["amount_fen"] == -110_000 and reversal["amount_yuan"] == "-1100.00"
    assert 0 < correction["amount_fen"] < 110_000  # 182 of 366 days
    original = client.get(f"/v1/runs/{run_id}", headers=fin).json()
    assert original["status"] == "approved" and original["lines"] == run["lines"]

    # one open correction per run (a new draft replaces the old one); an adjustment is
    # neither recomputed nor adjusted; the next correction builds on the approved one
    r = client.post(url, json={"note": "again"}, headers=clerk)
    assert r.status_code == 201
    second = r.json()
    replaced = client.get(f"/v1/runs/{adj['id']}", headers=fin).json()
    assert replaced["status"] == "discarded" and replaced["lines"] == 0
    history = client.get(f"/v1/runs/{adj['id']}/history", headers=fin).json()
    assert [(e["event"], e["actor"]) for e in history] == [
        ("created", adj["created_by"]),
        ("discarded", second["created_by"]),
    ]
    r = client.post(f"/v1/runs/{second['id']}/recompute", headers=fin)
    assert r.status_code == 409 and "adjustment" in r.json()["detail"]
    assert client.post(f"/v1/runs/{second['id']}/approve", headers=clerk).status_code == 403
    assert client.post(f"/v1/runs/{second['id']}/approve", headers=fin).status_code == 200
    r = client.post(url, json={"note": "third"}, headers=clerk)
    assert r.status_code == 201 and r.json()["lines"] == 0  # nothing changed since
    third = r.json()
    r = client.post(f"/v1/runs/{second['id']}/adjustments", json={"note": "x"}, headers=clerk)
    assert r.status_code == 409 and f"adjust run {run_id}" in r.json()["detail"]
    listed = client.get(
        "/v1/runs", params={"kind": "adjustment", "corrects": run_id}, headers=clerk
    ).json()
    assert [(x["id"], x["status"]) for x in listed["items"]] == [
        (third["id"], "draft"),
        (second["id"], "approved"),
        (adj["id"], "discarded"),
    ]

    # bank file → exported → paid, once
    assert client.post(f"/v1/runs/{run_id}/bank-file", headers=fin).status_code == 200
    r = client.post(f"/v1/runs/{run_id}/mark-paid", headers=_h(world, "finance_ly"))
    assert r.status_code == 403
    r = client.post(f"/v1/runs/{run_id}/mark-paid", headers=clerk)
    assert r.status_code == 200, r.text
    paid = r.json()
    assert paid["status"] == "paid" and paid["paid_at"] and paid["exported_at"]
    assert paid["approved_by"] == "finance" and paid["created_by"] == "finance_xx"
    for path in ("mark-paid", "bank-file"):
        r = client.post(f"/v1/runs/{run_id}/{path}", headers=fin)
        assert r.status_code == 409 and "paid" in r.json()["detail"], path
    r = client.post("/v1/runs/999999/mark-paid", headers=fin)
    assert r.status_code == 404


def test_key_last_used_is_recorded_at_most_once_a_minute(
    client: TestClient, world: ApiWorld
) -> None:
    with psycopg.connect(world.url, autocommit=True) as conn:
        _info, plain = create_key(conn, name="last-used", role="viewer")

        def stored() -> datetime | None:
            row = conn.execute(
                "SELECT last_used_at FROM api_keys WHERE name = 'last-used'"
            ).fetchone()
            assert row is not None
            return row[0]

        assert stored() is None
        keys = client.get("/v1/keys", params={"limit": 1000}, headers=_h(world, "admin")).json()
        mine = next(k for k in keys["items"] if k["name"] == "last-used")
        assert mine["last_used_at"] is None
        assert client.get("/v1/places", headers={"X-API-Key": plain}).status_code == 200
        first = stored()
        assert first is not None
        assert client.get("/v1/places", headers={"X-API-Key": plain}).status_code == 200
        assert stored() == first  # within the minute: no write
        conn.execute(
            "UPDATE api_keys SET last_used_at = now() - interval '2 minutes'"
            " WHERE name = 'last-used'"
        )
        stale = stored()
        assert client.get("/v1/places", headers={"X-API-Key": plain}).status_code == 200
        latest = stored()
        assert stale is not None and latest is not None and latest > stale
        keys = client.get("/v1/keys", params={"limit": 1000}, headers=_h(world, "admin")).json()
        mine = next(k for k in keys["items"] if k["name"] == "last-used")
        assert datetime.fromisoformat(mine["last_used_at"]) == latest
        # a database that refuses the write does not refuse the key
        conn.execute("UPDATE api_keys SET last_used_at = NULL WHERE name = 'last-used'")
        conn.execute("SET default_transaction_read_only = on")
        assert authenticate(conn, plain).name == "last-used"
        conn.execute("SET default_transaction_read_only = off")
        assert stored() is None


def test_cli_keys_list_shows_last_use(world: ApiWorld, monkeypatch: object) -> None:
    from pvmon.cli import app

    monkeypatch.setenv("PVMON_DATABASE_URL", world.url)  # type: ignore[attr-defined]
    monkeypatch.setenv("COLUMNS", "200")  # type: ignore[attr-defined]
    with psycopg.connect(world.url, autocommit=True) as conn:
        _info, plain = create_key(conn, name="cli-used", role="viewer")
        create_key(conn, name="cli-unused", role="viewer")
        authenticate(conn, plain)
        row = conn.execute("SELECT last_used_at FROM api_keys WHERE name = 'cli-used'").fetchone()
        assert row is not None and row[0] is not None
        used: datetime = row[0]
    r = CliRunner().invoke(app, ["keys", "list"])
    assert r.exit_code == 0, r.output
    assert "last used" in r.output
    rows = {line.split("│")[1].strip(): line for line in r.output.splitlines() if "│" in line}
    assert used.isoformat(timespec="minutes") in rows["cli-used"]
    assert "never" in rows["cli-unused"]


def test_a_code_twice_in_one_import_is_named_not_left_to_the_database(
    client: TestClient, world: ApiWorld
) -> None:
    from pvmon.registry import generate_fleet

    fleet = generate_fleet(households=3, village_stations=1)
    fleet["stations"][2]["code"] = fleet["stations"][0]["code"]
    fleet["households"][1]["id_number"] = fleet["households"][0]["id_number"]
    r = client.post(
        "/v1/registry/import",
        content=json.dumps(fleet, default=str),
        headers={**_h(world, "admin"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "stations[2]: station 'H000001' is given twice (also stations[0])" in r.text
    assert "households[1]: id_number is given twice (also households[0])" in r.text
    assert fleet["households"][0]["id_number"] not in r.text  # personal data not echoed
    assert "ON CONFLICT" not in r.text and "constraint" not in r.text


def test_a_refusal_the_routes_did_not_foresee_is_422_without_the_databases_words(
    world: ApiWorld,
) -> None:
    from pvmon.api import create_app

    app = create_app(database_url=world.url)

    @app.get("/unforeseen/{kind}")
    def unforeseen(conn: Conn, kind: str) -> None:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS t (id_number text UNIQUE, n smallint)")
        conn.execute("TRUNCATE t")
        conn.execute("INSERT INTO t VALUES ('110105194912310021', 1)")
        if kind == "unique":
            conn.execute("INSERT INTO t VALUES ('110105194912310021', 2)")
        conn.execute("INSERT INTO t VALUES ('x', 99999)")  # out of range

    @app.get("/slow")
    def slow(conn: Conn) -> None:
        conn.execute("SET statement_timeout = 50")
        try:
            conn.execute("SELECT pg_sleep(5)")
        finally:
            conn.execute("RESET statement_timeout")

    with TestClient(app, raise_server_exceptions=False) as client:
        for kind, said in (("unique", "another record already has this value"),
                           ("range", "a value is out of range")):  # fmt: skip
            r = client.get(f"/unforeseen/{kind}")
            assert r.status_code == 422 and said in r.json()["detail"], r.text
            assert "110105194912310021" not in r.text and "duplicate key" not in r.text
            assert "smallint" not in r.text, r.text
        r = client.get("/slow")  # a statement timeout is not a database outage
        assert r.status_code == 503 and r.json()["detail"] == "the query took too long"
        assert not app.state.gate.down
        assert client.get("/v1/stations", headers=_h(world, "viewer")).status_code == 200
