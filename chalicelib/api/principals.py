"""Principals, API keys and the caller's identity."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.http import CURSOR, LIMIT, ApiRequest, QueryParam, Reply, endpoint, etag
from chalicelib.domain.roles import Role

if TYPE_CHECKING:
    from chalicelib.domain.models import ApiKeyCreated, Principal

bp = Blueprint(__name__)
ADMIN = {Role.ADMIN}


def _principal_created(p: Principal) -> Reply:
    return Reply(p, 201, {"Location": f"/v1/principals/{p.id}", "ETag": etag(p.revision)})


def _key_created(k: ApiKeyCreated) -> Reply:
    return Reply(k, 201, {"Location": f"/v1/api-keys/{k.id}"})


@endpoint(
    bp,
    "GET",
    "/v1/me",
    summary="Who the caller is",
    tag="Identity",
    auth="any",
    response="chalicelib.domain.models:Me",
)
def me(req: ApiRequest) -> Reply:
    from chalicelib.services import reads

    return Reply(reads.whoami(req.actor))


@endpoint(
    bp,
    "GET",
    "/v1/me/api-keys",
    summary="List your own API keys (never their secrets), with who issued each",
    tag="Identity",
    response="chalicelib.domain.models:ApiKeyList",
    query=(LIMIT, CURSOR),
)
def list_own_api_keys(req: ApiRequest) -> Reply:
    from chalicelib.domain.models import ApiKeyList
    from chalicelib.services import own_keys

    items, next_cursor = own_keys.list_keys(req.actor, req.limit, req.cursor)
    return Reply(ApiKeyList(items=items, next_cursor=next_cursor))


@endpoint(
    bp,
    "POST",
    "/v1/me/api-keys/{key_id}/rotate",
    summary=(
        "Rotate one of your own API keys: a new key of your own (the secret is shown once);"
        " the old key is revoked"
    ),
    tag="Identity",
    response="chalicelib.domain.models:ApiKeyCreated",
    status=201,
    idempotent=True,
)
def rotate_own_api_key(req: ApiRequest, key_id: str) -> Reply:
    from chalicelib.services import own_keys

    claim = req.claim_for(_key_created)
    return _key_created(own_keys.rotate_key(req.actor, key_id, claim))


@endpoint(
    bp,
    "POST",
    "/v1/principals",
    summary="Add a person or service account",
    tag="Principals",
    roles=ADMIN,
    request="chalicelib.domain.models:PrincipalCreate",
    response="chalicelib.domain.models:Principal",
    status=201,
    idempotent=True,
)
def create_principal(req: ApiRequest) -> Reply:
    from chalicelib.services import principals

    claim = req.claim_for(_principal_created)
    return _principal_created(principals.create_principal(req.actor, req.body, claim))


@endpoint(
    bp,
    "GET",
    "/v1/principals",
    summary="List principals",
    tag="Principals",
    roles=ADMIN,
    response="chalicelib.domain.models:PrincipalList",
    query=(LIMIT, CURSOR),
)
def list_principals(req: ApiRequest) -> Reply:
    from chalicelib.services import reads

    return Reply(reads.principals_page(req.actor, req.limit, req.cursor))


@endpoint(
    bp,
    "GET",
    "/v1/principals/{principal_id}",
    summary="Get a principal",
    tag="Principals",
    roles=ADMIN,
    response="chalicelib.domain.models:Principal",
)
def get_principal(req: ApiRequest, principal_id: str) -> Reply:
    from chalicelib.services import reads

    p = reads.principal(req.actor, principal_id)
    return Reply(p, headers={"ETag": etag(p["revision"])})


@endpoint(
    bp,
    "PATCH",
    "/v1/principals/{principal_id}",
    summary="Change a principal's name, roles or status (merge-patch)",
    tag="Principals",
    roles=ADMIN,
    request="chalicelib.domain.models:PrincipalPatch",
    response="chalicelib.domain.models:Principal",
    if_match=True,
    errors=(422,),
)
def update_principal(req: ApiRequest, principal_id: str) -> Reply:
    from chalicelib.services import principals

    p = principals.update_principal(req.actor, principal_id, req.body, req.expected_revision)
    return Reply(p, headers={"ETag": etag(p.revision)})


@endpoint(
    bp,
    "POST",
    "/v1/api-keys",
    summary="Issue an API key (the secret is shown once)",
    tag="API keys",
    roles=ADMIN,
    request="chalicelib.domain.models:ApiKeyCreate",
    response="chalicelib.domain.models:ApiKeyCreated",
    status=201,
    idempotent=True,
    errors=(422,),
)
def create_api_key(req: ApiRequest) -> Reply:
    from chalicelib.services import principals

    return _key_created(principals.create_key(req.actor, req.body, req.claim_for(_key_created)))


@endpoint(
    bp,
    "GET",
    "/v1/api-keys",
    summary="List API keys (never their secrets)",
    tag="API keys",
    roles=ADMIN,
    response="chalicelib.domain.models:ApiKeyList",
    query=(LIMIT, CURSOR, QueryParam("principal_id", str, "Only this principal's keys")),
)
def list_api_keys(req: ApiRequest) -> Reply:
    from chalicelib.services import reads

    principal_id = req.query.get("principal_id")
    return Reply(reads.api_keys_page(req.actor, req.limit, req.cursor, principal_id))


@endpoint(
    bp,
    "GET",
    "/v1/api-keys/{key_id}",
    summary="Get an API key (never its secret)",
    tag="API keys",
    roles=ADMIN,
    response="chalicelib.domain.models:ApiKey",
)
def get_api_key(req: ApiRequest, key_id: str) -> Reply:
    from chalicelib.services import reads

    return Reply(reads.api_key(req.actor, key_id))


@endpoint(
    bp,
    "DELETE",
    "/v1/api-keys/{key_id}",
    summary="Revoke an API key",
    tag="API keys",
    roles=ADMIN,
    status=204,
    errors=(422,),
)
def revoke_api_key(req: ApiRequest, key_id: str) -> Reply:
    from chalicelib.services import principals

    principals.revoke_key(req.actor, key_id)
    return Reply(None, 204)
