"""Local receivers for notification tests, and a guard: no test here sends outside loopback.

WeCom's and DingTalk's apprise plugins post to fixed hosts (``qyapi.weixin.qq.com``,
``oapi.dingtalk.com``) that a URL cannot redirect, so the generic ``json://`` webhook
pointed at :class:`Receiver` stands in for a group robot; e-mail goes to aiosmtpd."""

from __future__ import annotations

import contextlib
import email
import email.policy
import ipaddress
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from pvmon.db.embedded import free_port


def _loopback(address: Any) -> bool:
    if not isinstance(address, tuple):
        return True  # a unix socket
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection to an address that is not loopback fails the test."""
    connect = socket.socket.connect
    create_connection = socket.create_connection

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if not _loopback(address):
            pytest.fail(f"a test connected outside loopback: {address!r}")
        connect(self, address)

    def guarded_create(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not _loopback(address):
            pytest.fail(f"a test connected outside loopback: {address!r}")
        return create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "create_connection", guarded_create)


@dataclass
class Receiver:
    """A local webhook: records each JSON post (path, title, message); paths under
    ``/hang`` accept and never answer until :attr:`release` is set."""

    port: int = 0
    posts: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    hung: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving_receiver() as got:
        yield got


@contextlib.contextmanager
def serving_receiver() -> Iterator[Receiver]:
    """A :class:`Receiver` listening on a free loopback port while the block runs."""
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path.startswith("/hang") and not got.release.is_set():
                got.hung.set()
                got.release.wait(60)
                return
            got.posts.append({"path": self.path, **json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    got.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield got
    finally:
        got.release.set()
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    """A local SMTP server: records each message's subject and plain-text body."""

    port: int
    mails: list[dict[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        text = part.get_content() if part is not None else ""
        self.mails.append({"subject": str(message["Subject"]), "body": text})
        return "250 OK"

    def url(self) -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?from=pvmon@example.invalid"
            "&to=pv-office@example.invalid"
        )


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
