"""Request bodies: read only for a valid key, and never past PVMON_API_BODY_MAX_BYTES.

Over a raw socket to a live server: a request that declares a body and sends none is
answered at once (401 or 413) when the key is missing or the body too large, which shows
the body was never waited for; a chunked body past the limit is cut off with 413.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from pvmon.api import create_app
from tests.pvmon.api.conftest import ApiWorld, served

_LIMIT = 50_000


@pytest.fixture(scope="module")
def live(world: ApiWorld) -> Iterator[str]:
    with served(create_app(database_url=world.url, body_max_bytes=_LIMIT)) as base:
        yield base.removeprefix("http://")


def _headers_only(address: str, lines: list[str]) -> tuple[int, str]:
    """Send a request's head and no body; the status and body of the answer."""
    host, port = address.split(":")
    with socket.create_connection((host, int(port)), timeout=60) as raw:
        raw.sendall(("\r\n".join([*lines, f"Host: {address}", "", ""])).encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = raw.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


@pytest.mark.parametrize(
    ("key", "length", "status", "detail"),
    [
        (None, 153_000_000, 413, "over 50,000 bytes"),  # the size first: no key lookup
        (None, 1_000, 401, "an API key is required"),
        ("pvk_not_a_key", 1_000, 401, "not valid"),
        ("revoked", 1_000, 401, "not valid or was revoked"),
        ("admin", 153_000_000, 413, "PVMON_API_BODY_MAX_BYTES"),
    ],
)
def test_a_body_is_refused_before_it_is_read(
    live: str, world: ApiWorld, key: str | None, length: int, status: int, detail: str
) -> None:
    plain = world.keys.get(key, key) if key else None
    lines = [
        "POST /v1/registry/import HTTP/1.1",
        "Content-Type: application/json",
        f"Content-Length: {length}",
    ]
    if plain:
        lines.append(f"X-API-Key: {plain}")
    got, body = _headers_only(live, lines)
    assert got == status and detail in body, body
    assert json.loads(body)["status"] == status  # problem+json


def test_a_chunked_body_past_the_limit_is_cut_off(live: str, world: ApiWorld) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"stations": ['
        for _ in range(100):
            yield b'{"code": "S", "name": "' + b"x" * 1000 + b'"},'
        yield b"]}"

    answer = httpx.post(
        f"http://{live}/v1/registry/import",
        content=chunks(),
        headers={"X-API-Key": world.keys["admin"], "Content-Type": "application/json"},
        timeout=60,
    )
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_a_small_body_with_a_valid_key_reaches_the_route(live: str, world: ApiWorld) -> None:
    answer = httpx.post(
        f"http://{live}/v1/registry/import",
        json={"stations": "not a list"},
        headers={"X-API-Key": world.keys["admin"]},
        timeout=60,
    )
    assert answer.status_code == 422 and "stations" in answer.text
    readonly = httpx.get(
        f"http://{live}/v1/stations", headers={"X-API-Key": world.keys["viewer"]}, timeout=60
    )
    assert readonly.status_code == 200  # no body: nothing for the guard to check
