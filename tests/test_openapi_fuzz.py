"""Generated requests (schemathesis, from the OpenAPI document the hub serves) against every operation of a
running `hub serve --demo`, as the demo eMSP: whatever comes, the answer is the protocol's own, never a
server error."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.test_cli import HUB, environment, running

AUTH = {"Authorization": "Token " + base64.b64encode(b"demo-emsp-token").decode()}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    directory = tmp_path_factory.mktemp("fuzz")
    env = environment(directory)
    with running(HUB + ["serve", "--demo"], env, directory / "hub.log"):
        yield schemathesis.openapi.from_url(f"{env['HUB_PUBLIC_URL']}/schema/openapi.json")


def test_generated_requests_never_get_a_server_error(api: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) > 30
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=AUTH, checks=[not_a_server_error])

        try:
            run()
        except Exception as exc:  # noqa: BLE001 (collected: one report for every operation)
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
