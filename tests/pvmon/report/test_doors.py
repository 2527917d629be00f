"""The monthly report through its doors: ``pvmon report month`` (XLSX, PDF, HTML), the
API's JSON and page, the front page, and the page in headless Chromium with its charts.

The world: a small generated county (LY) with June 2025 simulated at 10-minute
readings (``backfill_readings``), plus alarms, in a plain-PostgreSQL database."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pvmon.api import create_app
from pvmon.api.auth import create_key
from pvmon.backfill import backfill_readings
from pvmon.cli import app
from pvmon.db.embedded import EmbeddedPostgres
from pvmon.db.rollups import refresh_rollups
from pvmon.registry import generate_fleet, store_fleet
from pvmon.registry.models import FleetFile
from pvmon.report.html import CHART_BOXES
from tests.conftest import _template, new_database
from tests.ports import fleet_base_port
from tests.pvmon.api.conftest import served

JUNE_END = datetime(2025, 6, 30, 16, 0, tzinfo=UTC)  # 1 July 00:00 China Standard Time
CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)


@dataclass
class World:
    url: str
    viewer: str
    viewer_xx: str
    station: str


@pytest.fixture(scope="module")
def world(pg_server: EmbeddedPostgres) -> World:
    url = new_database(pg_server, template=_template(pg_server, "postgres"))
    with psycopg.connect(url, autocommit=True) as conn:
        fleet = generate_fleet(households=4, village_stations=1, joint_villages=2,
                               base_port=fleet_base_port())  # fmt: skip
        store_fleet(conn, FleetFile.model_validate(fleet))
        backfill_readings(conn, days=30, end=JUNE_END, seed=5, interval_min=10)
        refresh_rollups(conn)
        # a household station dark from 20 June: its energy of those days goes missing
        row = conn.execute(
            "SELECT s.id, s.code, i.id FROM stations s JOIN inverters i ON i.station_id = s.id"
            " WHERE s.kind = 'household' ORDER BY s.code LIMIT 1"
        ).fetchone()
        assert row is not None
        sid, code, iid = row
        conn.execute(
            "DELETE FROM readings WHERE inverter_id = %s AND time >= '2025-06-19 16:00+00'", (iid,)
        )
        refresh_rollups(conn)
        conn.execute(
            "INSERT INTO alarms (inverter_id, station_id, kind, opened_at, reason) VALUES"
            " (%s, %s, 'offline', '2025-06-19 17:00+00', 'no reply for 10 min')",
            (iid, sid),
        )
        conn.execute(
            "INSERT INTO alarms (inverter_id, station_id, kind, opened_at, closed_at, reason)"
            " VALUES (%s, %s, 'no_output', '2025-06-05 04:00+00', '2025-06-05 06:00+00',"
            " 'zero power at noon')",
            (iid, sid),
        )
        conn.execute(
            "INSERT INTO counties (code, name, province) VALUES ('XX', '另一县', '辽宁省')"
        )
        viewer = create_key(conn, name="viewer", role="viewer", county="LY")[1]
        viewer_xx = create_key(conn, name="viewer_xx", role="viewer", county="XX")[1]
    return World(url=url, viewer=viewer, viewer_xx=viewer_xx, station=code)


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(database_url=world.url), raise_server_exceptions=False) as c:
        yield c


def _json(client: TestClient, world: World, **params: str) -> dict:  # type: ignore[type-arg]
    r = client.get("/v1/reports/month", params={"county": "LY", "month": "2025-06", **params},
                   headers={"X-API-Key": world.viewer})  # fmt: skip
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_the_json_report_of_june(client: TestClient, world: World) -> None:
    doc = _json(client, world)
    assert doc["window"] == ["2025-06-01", "2025-06-30"]
    totals = doc["totals"]
    assert totals["stations"] == len(doc["stations"]) >= 5
    assert totals["energy_wh"] == sum(s["energy_wh"] for s in doc["stations"])
    assert totals["energy_wh"] == sum(d["energy_wh"] for d in doc["days"]) > 0
    # a sunny simulated June against a 0.70 clear-sky-index model: plausible, not exact
    assert 0.5 < totals["performance_ratio"] < 1.3
    dark = next(s for s in doc["stations"] if s["code"] == world.station)
    assert dark["days_with_energy"] == 19 and doc["losers"][0] == world.station
    assert dark["open_alarms"] == 1 and totals["open_alarms"] == 1 and len(doc["alarms"]) == 2
    # independent of the report: the station's daily series over the month
    series = client.get(f"/v1/stations/{world.station}/series",
                        params={"bucket": "1d", "start": "2025-05-31T16:00:00Z",
                                "end": "2025-06-30T16:00:00Z"},
                        headers={"X-API-Key": world.viewer}).json()  # fmt: skip
    assert sum(p["energy_wh"] or 0 for p in series["points"]) == dark["energy_wh"]


def test_narrower_scopes_and_refusals(client: TestClient, world: World) -> None:
    county = _json(client, world)
    village = county["stations"][0]["village"]
    code = next(v["code"] for v in county["villages"] if v["name"] == village)
    one = _json(client, world, village=code)
    assert one["scope"] == {"level": "village", "code": code, "name": village, "county": "LY"}
    assert {s["village"] for s in one["stations"]} == {village}
    township = code.rsplit("-", 1)[0]
    assert _json(client, world, township=township)["scope"]["level"] == "township"
    get = client.get
    base = {"county": "LY", "month": "2025-06"}
    for params, key, status in [
        (base, None, 401),
        (base, world.viewer_xx, 403),
        ({**base, "village": "NOPE"}, world.viewer, 404),
        ({**base, "month": "2025-13"}, world.viewer, 422),
        ({**base, "village": code, "township": township}, world.viewer, 422),
    ]:
        headers = {"X-API-Key": key} if key else {}
        r = get("/v1/reports/month", params=params, headers=headers)
        assert r.status_code == status, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


def test_the_front_page_needs_no_key_and_links_the_report(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'action="/v1/reports/month.html"' in r.text and "pvk_" not in r.text


def test_the_page_takes_the_key_as_a_parameter(client: TestClient, world: World) -> None:
    params = {"county": "LY", "month": "2025-06", "township": "", "village": ""}  # the form
    assert client.get("/v1/reports/month.html", params=params).status_code == 401
    r = client.get("/v1/reports/month.html", params={**params, "key": world.viewer})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    assert r.text.count("<svg") == 2 and "<script" not in r.text and world.viewer not in r.text
    r = client.get("/v1/reports/month.html", params={**params, "key": world.viewer_xx})
    assert r.status_code == 403


class _Totals(HTMLParser):
    """The ``data-total`` cells of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._key: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._key = dict(attrs).get("data-total")

    def handle_data(self, data: str) -> None:
        if self._key:
            self.values[self._key] = data
            self._key = None


def _number(text: str) -> float:
    return float(text.split()[0].replace(",", ""))


def test_the_cli_writes_xlsx_pdf_and_html(
    world: World, client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PVMON_DATABASE_URL", world.url)
    monkeypatch.setenv("PVMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["report", "month", "--county", "LY", "--month", "2025-06",
                                   "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = _json(client, world)
    totals = doc["totals"]
    kwh = f"{totals['energy_kwh']:,.1f}"
    assert kwh in res.output and "2025-06-01 - 2025-06-30" in res.output
    stem = out / "report-LY-2025-06"

    from openpyxl import load_workbook

    wb = load_workbook(stem.with_suffix(".xlsx"), read_only=True)
    assert wb.sheetnames == ["汇总", "村", "电站", "落后电站", "每日", "告警"]
    rows = list(wb["电站"].iter_rows(values_only=True))
    head = rows[2]
    assert head[:3] == ("电站编号", "电站", "类型") and "系统效率PR" in head
    energy = head.index("发电量(kWh)")
    assert rows[-1][0] == "合计" and isinstance(rows[-1][energy], int | float)
    assert rows[-1][energy] == pytest.approx(totals["energy_kwh"])
    assert sum(r[energy] for r in rows[3:-1]) == pytest.approx(totals["energy_kwh"], abs=0.5)
    summary = {r[0]: r[1] for r in wb["汇总"].iter_rows(values_only=True) if len(r) > 1 and r[0]}
    assert summary["发电量"] == pytest.approx(totals["energy_kwh"])
    assert summary["系统效率PR"] == pytest.approx(totals["performance_ratio"])
    assert len(list(wb["告警"].iter_rows(values_only=True))) == 3 + 2

    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (Debian poppler-utils) not installed")
    text = subprocess.run(["pdftotext", "-layout", str(stem.with_suffix(".pdf")), "-"],
                          check=True, capture_output=True, text=True).stdout  # fmt: skip
    for heading in ("发电月报", "一、汇总", "各村发电", "发电落后电站", "各电站发电", "告警",
                    "系统效率PR", "预期发电量(kWh)", "合计", "说明"):  # fmt: skip
        assert heading in text, heading
    assert kwh in text and f"{totals['expected_kwh']:,.1f}" in text
    fonts = subprocess.run(["pdffonts", str(stem.with_suffix(".pdf"))], capture_output=True,
                           text=True).stdout if shutil.which("pdffonts") else "emb yes"  # fmt: skip
    assert "WenQuanYi" in fonts or "emb" in fonts

    shutil.copy(stem.with_suffix(".pdf"), Path("/tmp/pvmon-report.pdf"))  # to look at
    page = _Totals()
    page.feed(stem.with_suffix(".html").read_text(encoding="utf-8"))
    assert _number(page.values["energy_kwh"]) == pytest.approx(totals["energy_kwh"])


def test_bad_cli_input_is_named(world: World, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("PVMON_DATABASE_URL", world.url)
    monkeypatch.setenv("PVMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")
    for args, message in [
        (["--county", "LY", "--month", "2025-6"], "month '2025-6'"),
        (["--county", "NOPE", "--month", "2025-06"], "county 'NOPE': not found"),
        (["--county", "LY", "--month", "2025-06", "--village", "V9"], "village 'V9'"),
    ]:
        res = CliRunner().invoke(app, ["report", "month", *args, "--out", str(tmp_path)])
        assert res.exit_code == 1 and message in res.output, res.output
        assert "Traceback" not in res.output
    assert not list(tmp_path.glob("report-*"))


def _non_white(png: Path, box: tuple[int, int, int, int]) -> tuple[int, int]:
    """(non-white pixels, pixels of the bar colour) inside ``box`` of the screenshot."""
    from PIL import Image

    with Image.open(png) as img:
        region = img.convert("RGB").crop(box)
        raw = region.tobytes()
    pixels = [(raw[i], raw[i + 1], raw[i + 2]) for i in range(0, len(raw), 3)]
    non_white = sum(1 for p in pixels if min(p) < 235)
    bar = sum(1 for r, g, b in pixels if abs(r - 0x1F) < 40 and abs(g - 0x77) < 40
              and abs(b - 0xB4) < 40)  # fmt: skip
    return non_white, bar


@pytest.mark.skipif(CHROMIUM is None, reason="chromium (Debian package) not installed")
def test_the_page_in_a_browser_shows_its_charts_and_the_apis_totals(
    world: World, client: TestClient, tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    doc = _json(client, world)
    with served(create_app(database_url=world.url)) as base:
        url = f"{base}/v1/reports/month.html?county=LY&month=2025-06&key={world.viewer}"
        html = httpx.get(url, timeout=120).text
        shot = tmp_path / "page.png"
        done = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--force-device-scale-factor=1", f"--user-data-dir={tmp_path / 'profile'}",
             f"--screenshot={shot}", "--window-size=1280,2000", url],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert shot.exists(), done.stderr[-2000:]
    shutil.copy(shot, Path("/tmp/pvmon-report-page.png"))  # to look at after a run
    for name, box in CHART_BOXES.items():
        non_white, bar = _non_white(shot, box)
        assert non_white > 2000, f"chart {name} looks blank ({non_white} non-white pixels)"
        assert bar > 300, f"chart {name} has no bars ({bar} bar pixels)"
    page = _Totals()
    page.feed(html)
    totals = doc["totals"]
    assert _number(page.values["energy_kwh"]) == pytest.approx(totals["energy_kwh"])
    assert _number(page.values["expected_kwh"]) == pytest.approx(totals["expected_kwh"])
    assert _number(page.values["performance_ratio"]) == pytest.approx(totals["performance_ratio"])
    assert int(_number(page.values["stations"])) == totals["stations"]
    assert int(_number(page.values["open_alarms"])) == totals["open_alarms"]


def test_the_readme_commands_run_as_written(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Monthly report", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in section.splitlines() if line.startswith("    pvmon ")]
    assert len(commands) == 3
    monkeypatch.setenv("PVMON_DATABASE_URL", world.url)
    monkeypatch.setenv("PVMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    for command in commands:
        res = CliRunner().invoke(app, shlex.split(command)[1:])
        assert res.exit_code == 0, f"{command}\n{res.output}"
    written = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert written == [f"report-{scope}-2025-06.{ext}" for scope in ("LY", "LY-T01")
                       for ext in ("html", "pdf", "xlsx")]  # fmt: skip
    assert len(list(tmp_path.glob("report-LY-T01-V001-2025-06.*"))) == 3


def test_the_report_carries_the_availability_the_api_gives(
    client: TestClient, world: World
) -> None:
    """The dark station's availability and lost energy in the report are those of
    ``/v1/stations/{code}/availability`` over the same days; the totals add up."""
    doc = _json(client, world)
    dark = next(s for s in doc["stations"] if s["code"] == world.station)
    got = client.get(f"/v1/stations/{world.station}/availability",
                     params={"from": "2025-06-01", "to": "2025-06-30"},
                     headers={"X-API-Key": world.viewer})  # fmt: skip
    assert got.status_code == 200, got.text
    api = got.json()
    assert dark["time_availability"] == pytest.approx(float(api["time_availability"]), abs=1e-3)
    assert dark["energy_availability"] == pytest.approx(float(api["energy_availability"]), abs=1e-3)
    lost_wh = sum(api["lost_wh_by_cause"].values())
    assert dark["lost_kwh"] == pytest.approx(lost_wh / 1000, abs=0.05)
    assert dark["lost_fault_kwh"] == pytest.approx(
        api["lost_wh_by_cause"].get("inverter_fault", 0) / 1000, abs=0.05
    )
    # dark from the 20th: about a third of June's daylight and energy lost to the fault
    assert 0.55 < dark["time_availability"] < 0.7 and dark["lost_fault_kwh"] > 50
    others = [s for s in doc["stations"] if s["code"] != world.station]
    assert all(s["time_availability"] == 1 and s["lost_kwh"] == 0 for s in others)
    assert doc["totals"]["lost_kwh"] == pytest.approx(
        sum(s["lost_kwh"] for s in doc["stations"]), abs=0.1
    )
