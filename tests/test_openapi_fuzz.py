"""Generated requests (schemathesis, from the OpenAPI document the hub serves) against every operation of a
running `hub serve --demo`, as the demo eMSP: whatever comes, the answer is the protocol's own, never a
server error."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from fixtures.ocpi_party import free_port
from tests.conftest import ROOT
from tests.test_cli import HUB, _wait_healthy

AUTH = {"Authorization": "Token " + base64.b64encode(b"demo-emsp-token").decode()}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    port, path = free_port(), tmp_path_factory.mktemp("fuzz") / "hub.db"
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{path}", "HUB_PORT": str(port), "HUB_HOST": "127.0.0.1",
           "HUB_OCPP_PORT": str(free_port()), "HUB_LOG_LEVEL": "WARNING", "HUB_PUBLIC_URL": url}
    proc = subprocess.Popen(HUB + ["serve", "--demo"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_healthy(url, proc)
        yield schemathesis.openapi.from_url(f"{url}/schema/openapi.json")
    finally:
        proc.send_signal(signal.SIGINT)
        _, errors = proc.communicate(timeout=20)
        Path(tmp_path_factory.getbasetemp() / "fuzz-hub.log").write_text(errors)


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
