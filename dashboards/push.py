"""Upsert the datasource, the folder and the dashboards into a running Grafana.

Uses ``grafana-client`` (the maintained successor of ``grafana-api``). Every object is
read first and written only when it differs, so pushing the same dashboards twice
changes nothing (no new dashboard versions). Grafana's errors, and a Grafana that
cannot be reached, become :class:`GrafanaPushError` naming the object concerned.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import requests
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards.build import FOLDER_TITLE, FOLDER_UID, build_all
from dashboards.reader import READER_ROLE
from dashboards.sql import DATASOURCE_NAME, DATASOURCE_TYPE, DATASOURCE_UID
from pvmon.errors import PvmonError

__all__ = [
    "GrafanaPushError",
    "PushReport",
    "datasource_model",
    "push",
]

Outcome = Literal["created", "updated", "unchanged"]
_T = TypeVar("_T")
# Keys Grafana adds to a stored dashboard that are not part of what we build.
_SERVER_KEYS = ("id", "version")


class GrafanaPushError(PvmonError):
    """Grafana refused (or could not be asked) to store one of our objects."""

    def __init__(self, what: str, detail: str, *, status: int | None = None) -> None:
        self.what = what
        self.status = status
        super().__init__(f"{what}: {detail}")


@dataclass
class PushReport:
    """What a push did to each object (``created``, ``updated`` or ``unchanged``)."""

    datasource: Outcome = "unchanged"
    folder: Outcome = "unchanged"
    dashboards: dict[str, Outcome] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """True when anything was written."""
        outcomes = [self.datasource, self.folder, *self.dashboards.values()]
        return any(outcome != "unchanged" for outcome in outcomes)


def datasource_model(
    *,
    host: str,
    database: str,
    user: str = READER_ROLE,
    password: str | None = None,
    sslmode: str = "disable",
) -> dict[str, Any]:
    """The PostgreSQL datasource as Grafana's API takes it (``host`` is ``name:port``).

    The TimescaleDB option stays off: the dashboards' SQL is the same on both flavours.
    """
    model: dict[str, Any] = {
        "uid": DATASOURCE_UID,
        "name": DATASOURCE_NAME,
        "type": DATASOURCE_TYPE,
        "access": "proxy",
        "url": host,
        "user": user,
        "isDefault": False,
        "jsonData": {
            "database": database,
            "sslmode": sslmode,
            "postgresVersion": 1500,
            "timescaledb": False,
            "maxOpenConns": 10,
        },
    }
    if password is not None:
        model["secureJsonData"] = {"password": password}
    return model


def _translate(what: str, exc: Exception) -> GrafanaPushError:
    if isinstance(exc, GrafanaException):
        response = exc.response
        if isinstance(response, dict) and response.get("message"):
            message = str(response["message"])
        else:
            message = str(exc.message)
        return GrafanaPushError(
            what, f"Grafana answered {exc.status_code}: {message}", status=exc.status_code
        )
    return GrafanaPushError(what, f"Grafana cannot be reached: {exc}")


def _call(what: str, action: Callable[[], _T]) -> _T:
    try:
        return action()
    except (GrafanaException, requests.exceptions.RequestException) as exc:
        raise _translate(what, exc) from exc


def _get(what: str, action: Callable[[], Any]) -> Any | None:
    """Read an object; None when Grafana says it does not exist."""
    try:
        return action()
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return None
        raise _translate(what, exc) from exc
    except (GrafanaException, requests.exceptions.RequestException) as exc:
        raise _translate(what, exc) from exc


def _same_datasource(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    keys = ("name", "type", "access", "url", "user", "isDefault")
    if any(stored.get(key) != wanted.get(key) for key in keys):
        return False
    stored_json = stored.get("jsonData") or {}
    return all(stored_json.get(k) == v for k, v in wanted["jsonData"].items())


def _push_datasource(api: GrafanaApi, wanted: dict[str, Any], *, force: bool) -> Outcome:
    what = f"datasource {wanted['uid']!r}"
    stored = _get(what, lambda: api.datasource.get_datasource_by_uid(wanted["uid"]))
    if stored is None:
        _call(what, lambda: api.datasource.create_datasource(wanted))
        return "created"
    if not force and _same_datasource(stored, wanted):
        return "unchanged"
    _call(what, lambda: api.datasource.update_datasource_by_uid(wanted["uid"], wanted))
    return "updated"


def _push_folder(api: GrafanaApi, *, uid: str, title: str) -> Outcome:
    what = f"folder {uid!r}"
    stored = _get(what, lambda: api.folder.get_folder(uid))
    if stored is None:
        _call(what, lambda: api.folder.create_folder(title, uid=uid))
        return "created"
    if stored.get("title") == title:
        return "unchanged"
    _call(what, lambda: api.folder.update_folder(uid, title=title, overwrite=True))
    return "updated"


def _push_dashboard(api: GrafanaApi, model: dict[str, Any], *, folder_uid: str) -> Outcome:
    uid = model["uid"]
    what = f"dashboard {uid!r} ({model.get('title', '')})"
    stored = _get(what, lambda: api.dashboard.get_dashboard(uid))
    if stored is not None:
        current = {k: v for k, v in stored.get("dashboard", {}).items() if k not in _SERVER_KEYS}
        if current == model and stored.get("meta", {}).get("folderUid") == folder_uid:
            return "unchanged"
    body = {
        "dashboard": {**model, "id": None},
        "folderUid": folder_uid,
        "overwrite": True,
        "message": "pvmon dashboards push",
    }
    _call(what, lambda: api.dashboard.update_dashboard(body))
    return "created" if stored is None else "updated"


def push(
    *,
    url: str,
    token: str,
    datasource: dict[str, Any],
    dashboards: Mapping[str, str] | None = None,
    folder_uid: str = FOLDER_UID,
    folder_title: str = FOLDER_TITLE,
    force_datasource: bool = False,
    timeout_s: float = 10.0,
) -> PushReport:
    """Upsert ``datasource``, the folder and ``dashboards`` (file name -> JSON text).

    ``dashboards`` defaults to the freshly built ones. The datasource's password is not
    readable back from Grafana: an otherwise identical datasource is left alone unless
    ``force_datasource`` (e.g. to set a new password).
    """
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    report = PushReport()
    report.datasource = _push_datasource(api, datasource, force=force_datasource)
    report.folder = _push_folder(api, uid=folder_uid, title=folder_title)
    texts = build_all() if dashboards is None else dashboards
    for name in sorted(texts):
        model = json.loads(texts[name])
        report.dashboards[model["uid"]] = _push_dashboard(api, model, folder_uid=folder_uid)
    return report
