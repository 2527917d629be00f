"""schemathesis against the live OpenAPI document: uvicorn on an ephemeral port, a real
database (the API test world: generated county, two days of simulated readings, schemes,
a draft run). No 5xx, every response within its documented status, content type and
schema. Examples per operation are limited to keep the run near a minute."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pvmon.api import create_app
from tests.pvmon.api.conftest import ApiWorld, served

_EXAMPLES = 30
_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live(world: ApiWorld) -> Iterator[tuple[str, ApiWorld]]:
    with served(create_app(database_url=world.url)) as base:
        yield base, world


def test_api_conforms_to_its_openapi(live: tuple[str, ApiWorld]) -> None:
    base, world = live
    # requests is broken here by urllib3-future (pulled in by grafana-client's niquests), so
    # the schema is fetched and every case sent with httpx; schemathesis validates the replies
    http = httpx.Client(timeout=60)
    api = schemathesis.openapi.from_dict(http.get(f"{base}/openapi.json").json())
    failures: list[str] = []
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            kwargs = case.as_transport_kwargs(
                base_url=base, headers={"X-API-Key": world.keys["admin"]}
            )
            kwargs.pop("cookies", None)
            kwargs["headers"].pop("Authorization", None)  # generated; the key is X-API-Key
            data = kwargs.pop("data", None)
            if data is not None:
                kwargs["content"] = data if isinstance(data, bytes | str) else None
            response = http.request(**kwargs)
            case.validate_response(response, checks=_CHECKS)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then fail once
            failures.append(f"{operation.label}: {exc}")
    assert operations >= 25
    assert not failures, "\n\n".join(failures)
