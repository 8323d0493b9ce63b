"""Schemathesis against `make run`'s stack: every operation of the OpenAPI document, with a
valid key for a role each operation admits, every standard check, and the stateful links
the document declares.

`make test` runs FUZZ_EXAMPLES=10 examples per operation; `make fuzz` runs 200. What is
left out, and why (each also marked where it is configured below):

- `cursor` query parameters are not generated. A cursor is an opaque token the API signs
  and binds to its query; no schema can describe the valid ones, so a generated cursor is
  rightly a 400 (`invalid-cursor`), which positive-data acceptance would count as a
  failure. Stateful runs still follow real cursors through `next_cursor`.
- Positive-data acceptance also accepts 412: a schema-valid request that a stale generated
  `If-Match` (optimistic locking) refuses; and 422 for the operations whose declaration
  lists it among its `errors` (a domain rule: a referenced principal or model that does not
  exist, an expiry in the past), 413 likewise (an artifact larger than the size limit,
  which is a setting), for no other.
- Negative-data rejection accepts 413: a body over 256 KB is refused for its size before
  its fields are read (the README's error list: 413 too large).
- Missing-required-header accepts 428: a missing `If-Match` is answered "428 Precondition
  Required" (RFC 6585), as the README's error list says.
- The stateful run follows the document's declared links only; schemathesis's inferred links
  (from `/v1/me` to the caller's own principal, among others) let it deactivate the keys
  it calls with, which blinds the rest of the run.
- The tenant operations are fuzzed with the platform key. Nothing stops the fuzzer from
  suspending the demo tenant whose keys every other operation uses, which would leave the
  rest of a run answering 403; the last test checks that the run did not go blind so.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.config import OperationConfig

from chalicelib.api.openapi import document
from infra.local import free_port
from tests.harness.clients import HttpApi
from tests.harness.exercise import (
    ANONYMOUS,
    PLATFORM,
    ExerciseFailed,
    Exerciser,
    UnsupportedOperation,
    operations,
    recent,
    role_for,
)
from tests.harness.stack import LocalStack, start
from tests.harness.world import Tenant

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
SCENARIOS = int(os.environ.get("FUZZ_SCENARIOS", str(EXAMPLES)))
STEPS = int(os.environ.get("FUZZ_STEPS", "10"))
PLATFORM_KEY = "cusp_fuzz-platform-key-0123456789"
pytestmark = [
    pytest.mark.slow,
    # Under xdist, schemathesis's parametrized test silently runs no operation at all (the
    # last tests here catch that): make test runs this directory in a process of its own.
    pytest.mark.skipif(
        "PYTEST_XDIST_WORKER" in os.environ, reason="run without xdist: pytest tests/fuzz"
    ),
]


def _document() -> dict[str, Any]:
    """The document the server serves (asserted below), without generated cursors."""
    import app  # noqa: F401  (registers the routes the document describes)

    raw: dict[str, Any] = json.loads(document())
    for item in raw["paths"].values():
        for op in item.values():
            op["parameters"] = [p for p in op.get("parameters", []) if p["name"] != "cursor"]
    return raw


PORT = free_port()
schema = schemathesis.openapi.from_dict(_document())
schema.config.update(base_url=f"http://127.0.0.1:{PORT}", request_timeout=30)
# The stateful run follows the links the document declares, not links schemathesis infers:
# inferred ones include `/v1/me` to PATCH its own principal, which let the fuzzer deactivate
# the very keys it calls with.
schema.config.phases.stateful.inference.algorithms = []
_checks = schema.config.checks
# Assign new lists: the defaults are shared by every checks config.
_checks.positive_data_acceptance.expected_statuses = [
    *_checks.positive_data_acceptance.expected_statuses,
    "412",
]
_checks.negative_data_rejection.expected_statuses = [
    *_checks.negative_data_rejection.expected_statuses,
    "413",
]
_checks.missing_required_header.expected_statuses = [
    *_checks.missing_required_header.expected_statuses,
    "428",
]
OPERATIONS = {op.name: op for op in operations()}
# 422 (a domain rule the schema cannot express) and 413 (a size limit that is a setting: an
# artifact above it) are a valid request's answer only where the operation's declaration
# lists them among its errors, for no other operation.
RULED = {"422": "a domain rule", "413": "a size limit set by configuration"}
_by_statuses: dict[tuple[str, ...], list[str]] = {}
for _name, _op in OPERATIONS.items():
    _extra = tuple(code for code in RULED if int(code) in _op.errors)
    if _extra:
        _by_statuses.setdefault(_extra, []).append(_name)
for _extra, _names in sorted(_by_statuses.items()):
    schema.config.operations.operations.append(
        OperationConfig.from_dict(
            {
                "include-operation-id": sorted(_names),
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": [
                            *_checks.positive_data_acceptance.expected_statuses,
                            *_extra,
                        ]
                    }
                },
            }
        )
    )
# The role each operation is fuzzed as: the first the route admits, except where the route
# admits every role but the service narrows by the body. An export of any kind (audit and
# evidence ones included) is the auditor's to request, so generated bodies of every kind,
# and every example, can succeed.
ROLE_OVERRIDES = {"create_export": "auditor"}
ROLES = {name: ROLE_OVERRIDES.get(name, role_for(op)) for name, op in OPERATIONS.items()}
TURNS: dict[str, int] = {}
ANSWERED: dict[str, set[int]] = {}  # operation -> statuses seen, stateless and stateful


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    running = start(PLATFORM_KEY, port=PORT)
    keys = {role: found[0] for role, found in running.keys.items()} | {PLATFORM: PLATFORM_KEY}

    @schema.auth.auth(refresh_interval=None)
    class RoleKeys:
        """The demo tenant's key of the role each operation admits (the platform key for
        platform operations, none for public ones). Schemathesis leaves it out of the
        negative cases that drop credentials on purpose, and `ignored_auth` re-sends the
        request without it and with a wrong key."""

        def get(self, case: schemathesis.Case, ctx: Any) -> dict[str, str]:
            return keys

        def set(self, case: schemathesis.Case, data: dict[str, str], ctx: Any) -> None:
            role = ROLES.get(case.operation.definition.raw.get("operationId", ""), ANONYMOUS)
            if role != ANONYMOUS:
                case.headers["Authorization"] = f"Bearer {data[role]}"

    yield running
    running.stop()


@pytest.fixture(scope="module")
def http(stack: LocalStack) -> Iterator[requests.Session]:
    with requests.Session() as session:  # one keep-alive connection for every example
        yield session


def _seen(case: schemathesis.Case, response: Any) -> None:
    if case.method.upper() == case.operation.method.upper():  # not an "unexpected method"
        ANSWERED.setdefault(case.operation.label, set()).add(response.status_code)


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a live server: time is not what this tests
    database=None,  # no .hypothesis/ directory, no replay of another run's failures
    suppress_health_check=list(HealthCheck),
)


def test_the_server_serves_the_document_being_fuzzed(
    stack: LocalStack, http: requests.Session
) -> None:
    served = http.get(f"{stack.base_url}/v1/openapi.json", timeout=10).json()
    assert served == json.loads(document())


@pytest.fixture(scope="module")
def exerciser(stack: LocalStack) -> Exerciser:
    demo = Tenant(id="demo", keys={role: found[0] for role, found in stack.keys.items()})
    return Exerciser(HttpApi(stack.base_url), demo, PLATFORM_KEY)


def _on_real_objects(case: schemathesis.Case, exerciser: Exerciser) -> None:
    """Every other positive case of an operation gets real objects (made for it by the
    harness): in its path, with the current ETag, and for every id its body names, and its
    measurements' times (`observed_at`) are a minute ago. So generated bodies meet real
    objects and not only 404s and 422s. Negative cases and the other half keep their
    generated ids and times."""
    op = OPERATIONS.get(case.operation.definition.raw.get("operationId", ""))
    if op is None or case.meta is None or not (op.path_params or op.request):
        return
    if case.meta.generation.mode is not GenerationMode.POSITIVE:
        return
    if case.headers and "Idempotency-Key" in case.headers:
        # A key drawn again for another body is a 409 by design; a positive case means a
        # new request, so it gets a key of its own.
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
    turn = TURNS[op.name] = TURNS.get(op.name, 0) + 1
    if turn % 2:
        return
    if op.path_params:
        prepared = exerciser.prepare(op)
        case.path_parameters = dict(prepared.params)
        if "If-Match" in prepared.headers:
            case.headers["If-Match"] = prepared.headers["If-Match"]
    if isinstance(case.body, dict):
        case.body = recent(exerciser.fill_ids(case.body))


@FUZZ_SETTINGS
@schema.parametrize()
def test_every_operation_answers_as_its_document_says(
    case: schemathesis.Case, stack: LocalStack, http: requests.Session, exerciser: Exerciser
) -> None:
    _on_real_objects(case, exerciser)
    _seen(case, case.call_and_validate(session=http))


def test_following_the_documents_links_keeps_every_answer_conformant(
    stack: LocalStack, http: requests.Session
) -> None:
    machine = schema.as_state_machine()
    assert schema.statistic.transitions.total > 0, "the document declares no links"

    class Links(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"session": http}

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            _seen(case, response)

    Links.run(
        settings=settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )


def test_every_operation_was_reached_and_succeeded_at_least_once(exerciser: Exerciser) -> None:
    """Every check tolerates 401, 403 and 404: a run whose keys were wrong, or whose ids
    never existed, would pass them all. This one would not.

    An operation the drawn cases happened never to get a 2xx from (an open stage the
    drawn approver may decide, a merge patch the team may make: which cases are drawn is
    chance) is sent once more as the harness builds it, on the same live server: it must
    succeed then."""
    labels = {f"{op.method} {op.path}": op for op in OPERATIONS.values()}
    missing = [label for label in labels if label not in ANSWERED]
    assert not missing, f"never fuzzed (did the parametrized test run?): {missing}"
    why: dict[str, str] = {}  # operation -> why the harness's own request failed too
    for label in [label for label in labels if not any(s < 300 for s in ANSWERED[label])]:
        try:
            ANSWERED[label].add(exerciser.run(labels[label]).status)
        except (ExerciseFailed, UnsupportedOperation) as failed:
            why[label] = str(failed)
    never = [label for label in labels if not any(s < 300 for s in ANSWERED[label])]
    assert not never, f"no 2xx answer at all for {never} ({why}): {ANSWERED}"


def test_the_demo_tenants_keys_still_worked_at_the_end(
    stack: LocalStack, http: requests.Session
) -> None:
    me = http.get(
        f"{stack.base_url}/v1/me",
        headers={"Authorization": f"Bearer {stack.key('developer')}"},
        timeout=10,
    )
    assert me.status_code == 200, me.text
