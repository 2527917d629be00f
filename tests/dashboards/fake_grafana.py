"""A small HTTP server speaking the part of Grafana's API that ``push`` uses.

It keeps datasources, folders and dashboards in memory (dashboards with versions, as
Grafana does), checks the bearer token, records every request, and can be told to
answer a given request with an error.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeGrafana", "fake_grafana"]


@dataclass
class FakeGrafana:
    """State of the fake server."""

    token: str
    url: str = ""
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    # (method, path regex) -> (status, message): answered instead of the real thing
    failures: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    _ids: int = 0

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def writes(self) -> list[tuple[str, str]]:
        """Requests that change something."""
        return [r for r in self.requests if r[0] in ("POST", "PUT", "DELETE")]

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        for (fail_method, pattern), (status, message) in self.failures.items():
            if fail_method == method and re.fullmatch(pattern, path):
                return status, {"message": message}
        if m := re.fullmatch(r"/api/datasources/uid/([\w-]+)", path):
            uid = m[1]
            if method == "GET":
                if uid not in self.datasources:
                    return 404, {"message": "Data source not found"}
                stored = {k: v for k, v in self.datasources[uid].items() if k != "secureJsonData"}
                return 200, stored
            if method == "PUT":
                if uid not in self.datasources:
                    return 404, {"message": "Data source not found"}
                self.datasources[uid] = {**body, "id": self.datasources[uid]["id"]}
                return 200, {"message": "Datasource updated", "datasource": body}
        if path == "/api/datasources" and method == "POST":
            if body["uid"] in self.datasources:
                return 409, {"message": "data source with the same uid already exists"}
            self.datasources[body["uid"]] = {**body, "id": self.next_id()}
            return 200, {"message": "Datasource added", "datasource": body}
        if m := re.fullmatch(r"/api/folders/([\w-]+)", path):
            uid = m[1]
            if uid not in self.folders:
                return 404, {"message": "folder not found"}
            if method == "GET":
                return 200, self.folders[uid]
            if method == "PUT":
                self.folders[uid]["title"] = body["title"]
                self.folders[uid]["version"] += 1
                return 200, self.folders[uid]
        if path == "/api/folders" and method == "POST":
            uid = body["uid"]
            self.folders[uid] = {
                "uid": uid,
                "title": body["title"],
                "id": self.next_id(),
                "version": 1,
            }
            return 200, self.folders[uid]
        if m := re.fullmatch(r"/api/dashboards/uid/([\w-]+)", path):
            if m[1] not in self.dashboards:
                return 404, {"message": "Dashboard not found"}
            stored = self.dashboards[m[1]]
            return 200, {
                "dashboard": stored["dashboard"],
                "meta": {
                    "folderUid": stored["folderUid"],
                    "version": stored["dashboard"]["version"],
                },
            }
        if path == "/api/dashboards/db" and method == "POST":
            model = dict(body["dashboard"])
            uid = model["uid"]
            if body.get("folderUid") not in self.folders:
                return 400, {"message": "folder not found"}
            previous = self.dashboards.get(uid)
            model["id"] = previous["dashboard"]["id"] if previous else self.next_id()
            model["version"] = previous["dashboard"]["version"] + 1 if previous else 1
            self.dashboards[uid] = {"dashboard": model, "folderUid": body["folderUid"]}
            return 200, {
                "id": model["id"],
                "uid": uid,
                "status": "success",
                "version": model["version"],
                "url": f"/d/{uid}",
            }
        return 404, {"message": f"fake grafana: no route for {method} {path}"}


def _handler(state: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            state.requests.append((self.command, self.path))
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                status, payload = 401, {"message": "Unauthorized"}
            else:
                status, payload = state.handle(self.command, self.path.split("?")[0], body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler


@contextmanager
def fake_grafana(token: str = "glsa_test") -> Iterator[FakeGrafana]:
    """Run a fake Grafana on an ephemeral loopback port."""
    state = FakeGrafana(token=token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
