"""The synthesized stack deploys exactly what infra/resources.py and the app declare.

The first test is the drift check itself; the others prove it can fail, by
running it against declarations or a template that differ from each other.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest
from chalice import Chalice

from infra.cdk.handlers import declared_handlers, load_app
from infra.resources import RESOURCES, StreamConsumer, Table
from tests.infra.conftest import Synthesized
from tests.infra.drift import find_drift

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cdk")]


def test_template_deploys_every_declared_resource_and_handler(synthesized: Synthesized) -> None:
    assert find_drift(RESOURCES, declared_handlers(load_app()), synthesized.template) == []


def test_drift_check_reports_a_declared_table_the_template_lacks(
    synthesized: Synthesized,
) -> None:
    # GIVEN a declaration with one more table than the stack was built from
    ledger = Table(logical_id="Ledger", env_var="CUSTOS_LEDGER", partition_key="pk", sort_key="sk")
    declared = replace(RESOURCES, tables=(*RESOURCES.tables, ledger))

    problems = find_drift(declared, declared_handlers(load_app()), synthesized.template)

    assert "AWS::DynamoDB::Table LedgerTable is missing" in problems
    assert any("environment lacks ['CUSTOS_LEDGER']" in p for p in problems)


def test_drift_check_reports_a_table_without_its_ttl(synthesized: Synthesized) -> None:
    template: dict[str, Any] = copy.deepcopy(synthesized.template)
    del template["Resources"]["MainTable"]["Properties"]["TimeToLiveSpecification"]

    problems = find_drift(RESOURCES, declared_handlers(load_app()), template)

    assert problems == ["table Main: ttl is None, declared 'expires_at'"]


def test_drift_check_reports_a_queue_shaped_differently(synthesized: Synthesized) -> None:
    events = RESOURCES.queue("WorkflowMessages")._replace(max_receive_count=3)
    declared = replace(RESOURCES, queues=(events,))

    problems = find_drift(declared, declared_handlers(load_app()), synthesized.template)

    assert problems == ["queue WorkflowMessages: max receive count is 5, declared 3"]


def test_drift_check_reports_app_handlers_the_stack_does_not_deploy(
    synthesized: Synthesized,
) -> None:
    # GIVEN an app that also declares a schedule, a route and an SQS consumer the stack never saw
    probe = Chalice(app_name="probe")

    @probe.schedule("rate(1 hour)", name="sweeper")
    def sweeper(event: Any) -> None:
        """A scheduled handler."""

    @probe.route("/v1/nowhere", methods=["GET"])
    def nowhere() -> dict[str, str]:
        return {}

    @probe.on_sqs_message(queue="custos-deliveries", name="deliver")
    def deliver(event: Any) -> None:
        """An SQS consumer bound by queue name."""

    handlers = declared_handlers(load_app()) + declared_handlers(probe)

    problems = find_drift(RESOURCES, handlers, synthesized.template)

    assert "AWS::Serverless::Function Sweeper is missing" in problems
    assert "schedule sweeper (rate(1 hour)) has no Schedule event" in problems
    assert "route GET /v1/nowhere is not in the RestAPI definition" in problems
    assert (
        "sqs deliver (custos-deliveries): use @app.lambda_function and "
        "RESOURCES.queue_consumers, not the chalice decorator"
    ) in problems


def test_drift_check_reports_a_stream_consumer_without_its_mapping(
    synthesized: Synthesized,
) -> None:
    relay = RESOURCES.stream_consumers[0]._replace(batch_size=7)
    orphan = StreamConsumer(function="archiver", table="Main")
    declared = replace(RESOURCES, stream_consumers=(relay, orphan))

    problems = find_drift(declared, declared_handlers(load_app()), synthesized.template)

    assert len(problems) == 3
    assert problems[0].startswith("consumer outbox_relay of MainTable: mapping is")
    assert problems[1:] == [
        "consumer archiver of MainTable: the app declares no function archiver",
        "consumer archiver of MainTable: no event source mapping",
    ]


def test_drift_check_reports_a_consumer_deployed_with_another_timeout(
    synthesized: Synthesized,
) -> None:
    verifier = next(c for c in RESOURCES.queue_consumers if c.function == "verify_artifact")
    others = [c for c in RESOURCES.queue_consumers if c is not verifier]
    declared = replace(RESOURCES, queue_consumers=(*others, verifier._replace(timeout_seconds=600)))

    problems = find_drift(declared, declared_handlers(load_app()), synthesized.template)

    assert problems == ["consumer verify_artifact: Lambda timeout is 900, declared 600"]
