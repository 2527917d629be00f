"""The fleet summary's energy of the day, month and year: computed once, kept for
PVMON_API_ENERGY_MAX_AGE_S, then answered while renewed in the background; its states and
power likewise for PVMON_API_SUMMARY_MAX_AGE_S (0: as of the request). /health finds the
newest reading without a scan."""

from __future__ import annotations

import threading
from datetime import datetime

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pvmon.api import create_app
from pvmon.api.app import app_for
from pvmon.api.fresh import Fresh
from pvmon.settings import Settings
from tests.pvmon.api.conftest import ApiWorld


class _Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _app_on_a_clock(
    world: ApiWorld, *, energy_max_age_s: float = 0, summary_max_age_s: float = 0
) -> tuple[FastAPI, _Clock]:
    """The API with its kept energy and summary states on a clock the test moves."""
    app = create_app(
        database_url=world.url,
        energy_max_age_s=energy_max_age_s,
        summary_max_age_s=summary_max_age_s,
    )
    clock = _Clock()
    app.state.energy = Fresh(max_age_s=energy_max_age_s, clock=clock)
    app.state.summary = Fresh(max_age_s=summary_max_age_s, clock=clock)
    return app, clock


def _summary(client: TestClient, world: ApiWorld, key: str = "viewer") -> dict:
    r = client.get("/v1/fleet/summary", headers={"X-API-Key": world.keys[key]})
    assert r.status_code == 200, r.text
    return r.json()


def _settled(app_energy: Fresh) -> None:
    for _ in range(1000):
        if not any(e.renewing for e in app_energy._entries.values()):
            return
        threading.Event().wait(0.01)
    raise AssertionError("the renewal never finished")


def test_the_energy_is_kept_then_renewed_behind_the_answer(world: ApiWorld) -> None:
    app, clock = _app_on_a_clock(world, energy_max_age_s=60)
    with TestClient(app, raise_server_exceptions=False) as client:
        first = _summary(client, world)
        energy = first["energy"]
        assert energy["as_of"] and energy["year_wh"] >= energy["month_wh"] >= energy["today_wh"]
        second = _summary(client, world)
        assert second["energy"] == energy  # kept: the same figures, computed then
        assert second["as_of"] > first["as_of"]  # states and power: now
        other = _summary(client, world, "viewer_xx")  # another county: its own figures
        assert other["county"] == "XX" and other["energy"]["as_of"] > energy["as_of"]
        clock.now = 61
        assert _summary(client, world)["energy"] == energy  # answered at once, while...
        _settled(app.state.energy)
        renewed = _summary(client, world)["energy"]  # ...renewed behind it
        assert renewed["as_of"] > energy["as_of"]
        assert renewed["year_wh"] == energy["year_wh"]  # the same readings, the same sums


def test_states_are_kept_a_few_seconds_then_renewed(world: ApiWorld) -> None:
    app, clock = _app_on_a_clock(world, summary_max_age_s=5)
    with TestClient(app, raise_server_exceptions=False) as client:
        first = _summary(client, world)
        with psycopg.connect(world.url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO inverter_health (inverter_id, state, since) SELECT id, 'fault', now()"
                " FROM inverters ON CONFLICT (inverter_id) DO UPDATE SET state = 'fault'"
            )
        kept = _summary(client, world)
        assert (kept["as_of"], kept["inverters_by_state"]) == (
            first["as_of"],
            first["inverters_by_state"],
        )
        clock.now = 6
        assert _summary(client, world)["as_of"] == first["as_of"]  # answered while renewed
        _settled(app.state.summary)
        renewed = _summary(client, world)
        assert renewed["as_of"] > first["as_of"]
        assert set(renewed["inverters_by_state"]) == {"fault"}


def test_max_age_comes_from_the_settings(world: ApiWorld) -> None:
    app = app_for(
        Settings(api_energy_max_age_s=15, api_summary_max_age_s=2), database_url=world.url
    )
    assert app.state.energy.max_age_s == 15 and app.state.summary.max_age_s == 2
    assert Settings().api_summary_max_age_s == 5
    with TestClient(create_app(database_url=world.url), raise_server_exceptions=False) as c:
        a, b = _summary(c, world)["energy"], _summary(c, world)["energy"]
        assert b["as_of"] > a["as_of"]  # 0 (create_app's default): computed every time


@pytest.mark.parametrize("value", [-1, 3601])
def test_max_age_out_of_range_is_refused(value: float) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="api_energy_max_age_s"):
        Settings(api_energy_max_age_s=value)


def test_health_names_the_newest_reading(client: TestClient, world: ApiWorld) -> None:
    import psycopg

    with psycopg.connect(world.url) as conn:
        newest = conn.execute("SELECT max(time) FROM readings").fetchone()[0]  # type: ignore[index]
    assert newest is not None
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert datetime.fromisoformat(body["latest_reading"]) == newest
