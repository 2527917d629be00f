"""``POST /v1/alarms/{id}/ack``: the operator's acknowledgement (the same as
``.../acknowledge``), county-limited, recording who and when."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.pvmon.api.conftest import ApiWorld


def _h(world: ApiWorld, key: str) -> dict[str, str]:
    return {"X-API-Key": world.keys[key]}


def test_ack_records_who_and_when_for_an_operator_of_the_county(
    client: TestClient, world: ApiWorld
) -> None:
    url = f"/v1/alarms/{world.alarm_ly}/ack"
    for key, status in (("viewer", 403), ("finance", 403), ("operator_xx", 403)):
        r = client.post(url, json={"comment": "x"}, headers=_h(world, key))
        assert r.status_code == status, (key, r.text)
    r = client.post(url, json={"comment": "fuse replaced"}, headers=_h(world, "operator_ly"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["acknowledged_by"] == "operator_ly" and body["ack_comment"] == "fuse replaced"
    assert body["acknowledged_at"] is not None
    missing = client.post(
        "/v1/alarms/999999/ack", json={"comment": "x"}, headers=_h(world, "operator")
    )
    assert missing.status_code == 404
