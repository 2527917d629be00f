"""``push`` against a fake Grafana over real HTTP: create, re-push unchanged, update,
and Grafana's errors reported as typed pvmon errors naming the object."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dashboards.build import FOLDER_UID, build_all
from dashboards.push import GrafanaPushError, PushReport, datasource_model, push
from dashboards.sql import DATASOURCE_UID
from pvmon.errors import PvmonError
from tests.dashboards.fake_grafana import FakeGrafana, fake_grafana

_DS = datasource_model(host="timescaledb:5432", database="pvmon", password="s3cret")
_UIDS = sorted(json.loads(text)["uid"] for text in build_all().values())


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    with fake_grafana() as server:
        yield server


def _push(grafana: FakeGrafana, **kwargs: Any) -> PushReport:
    return push(url=grafana.url, token=grafana.token, datasource=_DS, **kwargs)


def test_first_push_creates_everything(grafana: FakeGrafana) -> None:
    report = _push(grafana)
    assert report.datasource == "created" and report.folder == "created"
    assert report.dashboards == dict.fromkeys(_UIDS, "created")
    assert grafana.datasources[DATASOURCE_UID]["secureJsonData"] == {"password": "s3cret"}
    assert grafana.folders[FOLDER_UID]["title"] == "pvmon"
    for uid in _UIDS:
        stored = grafana.dashboards[uid]
        assert stored["folderUid"] == FOLDER_UID and stored["dashboard"]["version"] == 1


def test_re_push_changes_nothing(grafana: FakeGrafana) -> None:
    _push(grafana)
    writes_before = len(grafana.writes())
    report = _push(grafana)
    assert not report.changed
    assert report.dashboards == dict.fromkeys(_UIDS, "unchanged")
    assert len(grafana.writes()) == writes_before  # only GETs the second time
    assert {grafana.dashboards[uid]["dashboard"]["version"] for uid in _UIDS} == {1}


def test_changed_dashboard_and_folder_title_are_updated(grafana: FakeGrafana) -> None:
    _push(grafana)
    texts = build_all()
    model = json.loads(texts["fleet.json"])
    model["title"] = "Fleet (renamed)"
    texts["fleet.json"] = json.dumps(model)
    report = _push(grafana, dashboards=texts, folder_title="PV stations")
    assert report.folder == "updated"
    assert report.dashboards["pvmon-fleet"] == "updated"
    others = [o for u, o in report.dashboards.items() if u != "pvmon-fleet"]
    assert others == ["unchanged"] * (len(texts) - 1)
    assert grafana.dashboards["pvmon-fleet"]["dashboard"]["version"] == 2


def test_changed_datasource_is_updated_and_force_rewrites(grafana: FakeGrafana) -> None:
    _push(grafana)
    moved = datasource_model(host="db.example:5432", database="pvmon")
    report = push(url=grafana.url, token=grafana.token, datasource=moved)
    assert report.datasource == "updated"
    assert grafana.datasources[DATASOURCE_UID]["url"] == "db.example:5432"
    report = push(url=grafana.url, token=grafana.token, datasource=moved, force_datasource=True)
    assert report.datasource == "updated"


@pytest.mark.parametrize(
    ("failure", "match", "status"),
    [
        (
            ("POST", "/api/dashboards/db"),
            r"dashboard 'pvmon-availability' \(pvmon / Availability and lost energy\): "
            r"Grafana answered 412: "
            r"The dashboard has been changed by someone else",
            412,
        ),
        (
            ("POST", "/api/folders"),
            r"folder 'pvmon': Grafana answered 500: database is locked",
            500,
        ),
        (
            ("GET", "/api/datasources/uid/.*"),
            r"datasource 'pvmon-postgres': Grafana answered 403: Permission denied",
            403,
        ),
    ],
)
def test_grafana_errors_are_reported_clearly(
    grafana: FakeGrafana, failure: tuple[str, str], match: str, status: int
) -> None:
    messages = {
        412: "The dashboard has been changed by someone else",
        500: "database is locked",
        403: "Permission denied",
    }
    grafana.failures[failure] = (status, messages[status])
    with pytest.raises(GrafanaPushError, match=match) as caught:
        _push(grafana)
    assert isinstance(caught.value, PvmonError)
    assert caught.value.status == status


def test_wrong_token_is_reported(grafana: FakeGrafana) -> None:
    with pytest.raises(
        GrafanaPushError, match=r"datasource 'pvmon-postgres': Grafana answered 401"
    ):
        push(url=grafana.url, token="wrong", datasource=_DS)


def test_unreachable_grafana_is_reported() -> None:
    with fake_grafana() as server:
        url = server.url
    with pytest.raises(GrafanaPushError, match="cannot be reached"):
        push(url=url, token="t", datasource=_DS, timeout_s=2)
