"""The tenant's approval policy: read, replace (a new version), list its versions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.http import CURSOR, LIMIT, ApiRequest, Reply, endpoint, etag
from chalicelib.domain.roles import Role

if TYPE_CHECKING:
    from chalicelib.domain.policy import Policy

bp = Blueprint(__name__)
TAG = "Policy"
POLICY = "chalicelib.domain.policy:"


def _reply(found: Policy) -> Reply:
    return Reply(found, headers={"ETag": etag(found.version)})


@endpoint(
    bp,
    "GET",
    "/v1/policy",
    summary="The approval policy in force (the defaults are version 1)",
    tag=TAG,
    response=POLICY + "Policy",
)
def get_policy(req: ApiRequest) -> Reply:
    from chalicelib.services import policy

    return _reply(policy.get_policy(req.actor))


@endpoint(
    bp,
    "PUT",
    "/v1/policy",
    summary="Replace the approval policy: a new version, with the ETag last read",
    tag=TAG,
    roles={Role.ADMIN},
    request=POLICY + "PolicyBody",
    response=POLICY + "Policy",
    if_match=True,
    errors=(422,),
)
def put_policy(req: ApiRequest) -> Reply:
    from chalicelib.services import policy

    return _reply(policy.put_policy(req.actor, req.body, req.expected_revision))


@endpoint(
    bp,
    "GET",
    "/v1/policy/versions",
    summary="Every version of the approval policy, oldest first",
    tag=TAG,
    response=POLICY + "PolicyList",
    query=(LIMIT, CURSOR),
)
def list_policy_versions(req: ApiRequest) -> Reply:
    from chalicelib.domain.policy import PolicyList
    from chalicelib.services import policy

    items, next_cursor = policy.list_versions(req.actor, req.limit, req.cursor)
    return Reply(PolicyList(items=items, next_cursor=next_cursor))
