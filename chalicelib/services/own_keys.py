"""A principal's own API keys: rotating one makes a key only its principal knows.

An admin may issue a key for anyone, so a key someone else issued proves nothing about who
uses it. Rotation replaces one of the caller's own keys with a new one whose issuer is the
caller: the new secret is shown once, the old key is revoked in the same transaction, and
only keys so made (or issued by the principal for itself) may judge risk
(`domain.duties.require_own_key`).
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain import events
from chalicelib.domain.actors import Actor
from chalicelib.domain.ids import is_id
from chalicelib.domain.models import ApiKey, ApiKeyCreated
from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.services import admin_keys
from chalicelib.services.principals import key_view, new_key_item
from chalicelib.services.records import public
from chalicelib.store.idempotency import Claim
from chalicelib.store.scope import for_actor
from chalicelib.store.unit import UnitOfWork


def rotate_key(actor: Actor, key_id: str, claim: Claim | None = None) -> ApiKeyCreated:
    """Replace the caller's key `key_id` with a new key the caller issued itself.

    The new key keeps the old one's name and expiry (rotation does not extend a key an admin
    gave an end). Another principal's key, or another tenant's, is a 404; a revoked or
    expired key is a 409. The old key stops working at once in this process and within the
    auth cache time (30 s) everywhere, as a revocation does."""
    store = for_actor(actor)
    me = str(actor.principal_id)
    item = store.principals.get_key(key_id) if is_id(key_id, "api_key") else None
    if item is None or item["principal_id"] != me:
        raise NotFoundError(f"no API key {key_id} of yours")
    if not admin_keys.usable(item):
        raise ConflictError("a revoked or expired key cannot be rotated; ask an admin for a key")
    expires = item.get("key_expires_at")
    new = new_key_item(
        me, item["name"], datetime.fromisoformat(expires) if expires else None, issued_by=me
    )
    new["rotated_from"] = key_id
    token = new.pop("token")
    view = key_view(new)
    result = ApiKeyCreated(**view.model_dump(), secret=token)
    at = new["created_at"]
    revoked = key_view({**item, "revoked_at": at})
    unit = UnitOfWork()
    unit.add(
        "old",
        store.principals.revoke_key(key_id, at),
        lambda: ConflictError(f"API key {key_id} was revoked meanwhile"),
    )
    unit.add("key", store.principals.put_new_key(new))
    # One audit event, on the key rotated: it is revoked, and `replaced_by` is the new key.
    unit.record(
        "api_key.rotated",
        "api_key",
        key_id,
        before={"revoked_at": None},
        after={"revoked_at": at, "replaced_by": public(view)},
    )
    unit.emit(events.API_KEY_ROTATED.of(view), events.API_KEY_REVOKED.of(revoked))
    unit.invalidates(store.tenant_id, key_id=key_id)
    unit.replay_answer(
        claim.response(result.model_copy(update={"secret": None})) if claim else None
    )
    store.commit(actor, unit)
    return result


def list_keys(actor: Actor, limit: int, cursor_text: str | None) -> tuple[list[ApiKey], str | None]:
    """A page of the caller's own keys (never their secrets), with who issued each: a
    principal sees a key an admin issued for it, and a rotation it did not make."""
    store = for_actor(actor)
    me = str(actor.principal_id)
    items, next_cursor = store.page(
        lambda n, start: store.principals.list_keys_page(n, start, me),
        query="own-api-keys",
        limit=limit,
        cursor_text=cursor_text,
        filtered=True,
        key_attrs=("pk", "sk", "gsi1pk", "gsi1sk"),
        principal=me,
    )
    return [key_view(i) for i in items], next_cursor
