"""Fuzzing every route from the server's own OpenAPI document (schemathesis, bounded examples,
loopback only): no input makes the server answer 5xx, and every answer matches the document
(status codes, content types, error body schema); schema-violating inputs get a 4xx.

schemathesis drives hypothesis directly here (``operation.as_strategy``): its pytest plugin's
lazy-fixture mode does not run under pytest 9.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from workbench.serving import Deployment

EXAMPLES = {"POST /invocations": 250}
OTHER_EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_makes_the_server_fail(server: Deployment, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    statuses: Counter[tuple[str, int]] = Counter()
    checks = [*CHECKS, negative_data_rejection] if mode is GenerationMode.NEGATIVE else CHECKS
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7  # /invocations and the GET routes but the document itself
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        if mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET":
            continue  # GET routes take no input, so there is nothing negative to send

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES.get(label, OTHER_EXAMPLES),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def fuzz(case: Any) -> None:
            response = case.call(timeout=30)
            statuses[(case.operation.label, response.status_code)] += 1
            case.validate_response(response, checks=checks)

        fuzz()
    print(mode, dict(statuses))
    assert not [key for key in statuses if key[1] >= 500], statuses
    assert statuses[("POST /invocations", 200)] > 0 or mode is GenerationMode.NEGATIVE
    assert any(s == 400 for (_, s) in statuses), statuses
