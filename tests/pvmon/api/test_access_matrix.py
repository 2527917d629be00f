"""Role × endpoint matrix, generated from the app's routes: every route must have an entry.

For each route and each key: no key → 401; a role without the route's access → 403;
a role with it → neither 401 nor 403 nor 5xx. A key limited to county XX gets 403 for
LY records (and for LY filters and scopes); a key limited to LY does not.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pvmon.api.auth import ACCESS, ROLES
from tests.pvmon.api.conftest import ApiWorld

# (method, path) → (access, county rule): with enough role, a key limited to county XX is
# refused LY's records ("deny") or served ("allow"); "unlimited": any county-limited key is
# refused (registry import needs a key for every county)
EXPECTED: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/health"): ("public", "allow"),
    ("GET", "/v1/fleet/summary"): ("read", "deny"),
    ("GET", "/v1/stations"): ("read", "deny"),
    ("GET", "/v1/stations/{code}"): ("read", "deny"),
    ("PATCH", "/v1/stations/{code}"): ("admin", "deny"),
    ("GET", "/v1/stations/{code}/series"): ("read", "deny"),
    ("GET", "/v1/stations/{code}/schedule"): ("finance", "deny"),
    ("GET", "/v1/inverters"): ("read", "deny"),
    ("GET", "/v1/inverters/{serial}"): ("read", "deny"),
    ("PATCH", "/v1/inverters/{serial}"): ("admin", "deny"),
    ("GET", "/v1/inverters/{serial}/series"): ("read", "deny"),
    ("GET", "/v1/alarms"): ("read", "deny"),
    ("GET", "/v1/stations/{code}/availability"): ("read", "deny"),
    ("GET", "/v1/availability/contractors"): ("read", "deny"),
    ("POST", "/v1/maintenance"): ("operate", "deny"),
    ("GET", "/v1/alarms/{alarm_id}"): ("read", "deny"),
    ("POST", "/v1/alarms/{alarm_id}/acknowledge"): ("operate", "deny"),
    ("POST", "/v1/alarms/{alarm_id}/ack"): ("operate", "deny"),
    ("GET", "/v1/places"): ("read", "deny"),
    ("POST", "/v1/registry/import"): ("admin", "unlimited"),
    ("GET", "/v1/keys"): ("admin", "allow"),
    ("GET", "/v1/schemes"): ("finance", "allow"),
    ("GET", "/v1/households"): ("read", "deny"),
    ("GET", "/v1/households/{file_no}"): ("read", "deny"),
    ("GET", "/v1/households/{file_no}/statement"): ("finance", "deny"),
    ("GET", "/v1/enrolments"): ("finance", "deny"),
    ("GET", "/v1/runs"): ("finance", "allow"),
    ("POST", "/v1/runs"): ("finance", "deny"),
    ("GET", "/v1/runs/{run_id}"): ("finance", "deny"),
    ("POST", "/v1/runs/{run_id}/recompute"): ("finance", "deny"),
    ("POST", "/v1/runs/{run_id}/approve"): ("finance", "deny"),
    ("GET", "/v1/runs/{run_id}/lines"): ("finance", "deny"),
    ("GET", "/v1/runs/{run_id}/export"): ("finance", "deny"),
    ("POST", "/v1/runs/{run_id}/bank-file"): ("finance", "deny"),
    ("POST", "/v1/runs/{run_id}/adjustments"): ("finance", "deny"),
    ("POST", "/v1/runs/{run_id}/mark-paid"): ("finance", "deny"),
    ("POST", "/v1/runs/{run_id}/discard"): ("finance", "deny"),
    ("GET", "/v1/runs/{run_id}/history"): ("finance", "deny"),
    ("GET", "/v1/reports/month"): ("read", "deny"),
    ("GET", "/v1/reports/month.html"): ("read", "deny"),
}

# list routes are "denied" for a county key when asked for another county
_COUNTY_QUERY = {"county": "LY"}
_PARAMS: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/v1/stations/{code}/availability"): {"from": "2024-06-01", "to": "2024-06-02"},
    ("GET", "/v1/availability/contractors"): {"month": "2024-06"},
}
_BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/v1/stations/{code}"): {"tilt_deg": 30},
    ("POST", "/v1/runs/{run_id}/discard"): {"reason": "wrong scope"},
    ("PATCH", "/v1/inverters/{serial}"): {"poll_interval_s": 60},
    ("POST", "/v1/alarms/{alarm_id}/acknowledge"): {"comment": "seen"},
    ("POST", "/v1/alarms/{alarm_id}/ack"): {"comment": "seen"},
    ("POST", "/v1/registry/import"): {},
    # a draft of its own (re-posting the fixture's would make every key one of its makers)
    ("POST", "/v1/runs"): {"period": "2024-H1", "scope_kind": "county", "scope_codes": ["LY"]},
    ("POST", "/v1/runs/{run_id}/adjustments"): {"note": "meter re-read"},
}


def _operations(client: TestClient) -> dict[tuple[str, str], dict[str, Any]]:
    """Every operation the app serves, from its OpenAPI document (built from its routes)."""
    spec = client.app.openapi()  # type: ignore[attr-defined]
    return {
        (method.upper(), path): op
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    }


def _routes(client: TestClient) -> list[tuple[str, str]]:
    return sorted(_operations(client))


def _call(client: TestClient, world: ApiWorld, method: str, path: str, key: str | None) -> int:
    url = path.format(
        code=world.station,
        serial=world.inverter,
        alarm_id=world.alarm_ly,
        file_no=world.household,
        run_id=world.run_id,
    )
    op = _operations(client)[(method, path)]
    has_county = any(p["name"] == "county" for p in op.get("parameters", []))
    headers = {"X-API-Key": key} if key else {}
    response = client.request(
        method,
        url,
        headers=headers,
        json=(
            {
                "station": world.station,
                "from": "2024-06-01T09:00Z",
                "to": "2024-06-01T10:00Z",
                "reason": "matrix",
            }
            if path == "/v1/maintenance"
            else _BODIES.get((method, path))
        ),
        params={**(_COUNTY_QUERY if has_county else {}), **_PARAMS.get((method, path), {})} or None,
    )
    return response.status_code


def test_every_route_has_an_expected_access_entry(client: TestClient) -> None:
    routes = set(_routes(client))
    missing = sorted(routes - set(EXPECTED))
    stale = sorted(set(EXPECTED) - routes)
    assert not missing, f"routes without an entry in EXPECTED: {missing}"
    assert not stale, f"entries for routes that no longer exist: {stale}"


def test_role_by_endpoint_matrix(client: TestClient, world: ApiWorld) -> None:
    failures = []
    for method, path in _routes(client):
        needed, county_rule = EXPECTED[(method, path)]
        cases: list[tuple[str | None, str]] = [(None, "401" if needed != "public" else "ok")]
        for role in ROLES:
            allowed = needed == "public" or role in ACCESS[needed]  # type: ignore[index]
            cases.append((role, "ok" if allowed else "403"))
            ly = "ok" if allowed and county_rule != "unlimited" else "403"
            cases.append((f"{role}_ly", ly))
            xx = "ok" if allowed and county_rule == "allow" else "403"
            cases.append((f"{role}_xx", xx if needed != "public" else "ok"))
        cases.append(("revoked", "401" if needed != "public" else "ok"))
        for key_name, expect in cases:
            key = world.keys[key_name] if key_name else None
            status = _call(client, world, method, path, key)
            ok = {
                "401": status == 401,
                "403": status == 403,
                "ok": status not in (401, 403) and status < 500,
            }[expect]
            if not ok:
                failures.append(f"{method} {path} key={key_name}: {status}, expected {expect}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("header", ["X-API-Key", "Authorization"])
def test_both_key_headers_work(client: TestClient, world: ApiWorld, header: str) -> None:
    value = world.keys["viewer"] if header == "X-API-Key" else f"Bearer {world.keys['viewer']}"
    assert client.get("/v1/fleet/summary", headers={header: value}).status_code == 200
