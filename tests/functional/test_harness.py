"""The harness reaches every route by itself: a route added tomorrow is benchmarked,
fault-injected and load-tested without anyone listing it."""

from __future__ import annotations

import pytest

from chalicelib.api.http import Operation
from tests.conftest import PLATFORM_KEY, Api, Tenant
from tests.harness.exercise import Exerciser, creator_of, operations
from tests.harness.fake_workflow import play_workflow


@pytest.mark.parametrize("op", operations(), ids=lambda op: f"{op.method} {op.path}")
def test_the_harness_builds_an_accepted_request_for_every_declared_operation(
    api: Api, tenant: Tenant, op: Operation
) -> None:
    answer = Exerciser(api, tenant, PLATFORM_KEY, play_workflow).run(op)
    assert answer.status == op.status


def test_a_path_parameter_is_made_by_the_post_of_its_collection() -> None:
    post, where = creator_of("/v1/models/{model_id}/versions/{number}", "number")
    assert (post.method, post.path, where) == ("POST", "/v1/models/{model_id}/versions", "/number")
    post, where = creator_of("/v1/tenants/{tenant_id}", "tenant_id")
    assert (post.path, where) == ("/v1/tenants", "/tenant/id")


def test_a_collection_made_under_another_object_is_made_by_the_post_ending_in_its_name() -> None:
    post, where = creator_of("/v1/approval-requests/{request_id}/decisions", "request_id")
    assert post.path == "/v1/models/{model_id}/versions/{number}/approval-requests"
    assert where == "/id"
