"""Completing an artifact's upload and verifying its bytes: Custos streams the object and
computes its SHA-256 and size itself, in the call for a small object, in the verifier
consumer (`verify`, fed by `artifact.verification_requested` through the outbox) for a
larger one. A client-sent checksum is never read.
"""

from __future__ import annotations

from typing import Any

from chalicelib.config import settings
from chalicelib.domain import events
from chalicelib.domain.actors import Actor
from chalicelib.domain.artifacts import Artifact, ArtifactStatus, differences, part_sizes
from chalicelib.domain.audit import diff
from chalicelib.entrypoints import Message
from chalicelib.errors import ConflictError, DomainRuleError, FieldError, TransientConflictError
from chalicelib.services.artifacts import (
    ATTEMPTS,
    Place,
    current_item,
    found,
    read_for_change,
    stored_record,
    why_not_draft,
)
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.objects import Part, Read, Stored
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.unit import AlreadyAppliedError, RetryError, UnitOfWork

S = ArtifactStatus
VERIFIER = "verifier"  # the consumer's name in its processed-message markers


class SupersededError(Exception):
    """The artifact was registered again (or decided) while its verification ran."""


# --- completing an upload ------------------------------------------------------------------


def complete(actor: Actor, model_id: str, number: str, name: str) -> tuple[Artifact, bool]:
    """The upload is done: read what S3 holds. Returns the artifact and whether its
    verification goes on asynchronously (202).

    Up to the sync threshold the object is streamed now: verified (200), or a 422 naming
    what differs, with nothing changed. Above it the artifact becomes `verifying` and the
    verification is requested through the outbox. A completed or verifying artifact is
    answered as it is, so a retried `complete` is harmless."""
    store = for_actor(actor)
    place = Place(model_id, number, name)
    item = found(place, read_for_change(store, actor, place, "complete artifact uploads"))
    for _ in range(ATTEMPTS):
        current = to_model(Artifact, item)
        if current.status is S.VERIFIED:
            return current, False
        if current.status is S.VERIFYING:
            return current, True
        if current.status is S.MISMATCH:
            raise ConflictError(
                f"artifact {place.name} did not match its registration; register it again "
                "to upload new bytes"
            )
        try:
            return _complete_pending(store, actor, place, item)
        except RetryError:
            item = current_item(store, place)
    raise TransientConflictError("the artifact is being changed concurrently; retry")


def _complete_pending(
    store: TenantStore, actor: Actor, place: Place, item: dict[str, Any]
) -> tuple[Artifact, bool]:
    current = to_model(Artifact, item)
    key = store.objects.key(place.model_id, place.number, place.name)
    uploaded = _uploaded(store, key, current, item)
    if uploaded.size != current.size:
        raise DomainRuleError(
            f"{uploaded.size} bytes are uploaded; the artifact is registered with {current.size}",
            errors=[FieldError("size", f"uploaded {uploaded.size}, registered {current.size}")],
        )
    limits = settings().artifact
    unit = UnitOfWork().add(
        "version",
        store.artifacts.change_on_draft(place.model_id, place.number),
        lambda: why_not_draft(actor, place),
    )
    at = timestamp()
    if uploaded.size > limits.sync_verify_bytes:
        updated = _moved(current, S.VERIFYING, at, s3_version_id=uploaded.version_id)
        kind = events.ARTIFACT_VERIFICATION_REQUESTED
    else:
        read = store.objects.digest(key, uploaded.version_id)
        differ = _differ(current, read)
        if differ:
            raise _mismatch(current, differ, read)
        updated = _moved(
            current, S.VERIFIED, at, s3_version_id=uploaded.version_id, **_computed(read, at)
        )
        kind = events.ARTIFACT_VERIFIED
    unit.add(
        "artifact",
        store.artifacts.put_replace(
            stored_record(updated, part_size=item.get("part_size")),
            current.revision,
            status=S.PENDING,
        ),
        RetryError,  # registered again, or completed by another request: look again
    )
    before, after = diff(public(current), public(updated))
    unit.record(kind.name, "artifact", place.subject, before=before, after=after)
    store.commit(actor, unit.emit(kind.of(updated)))
    return updated, kind is events.ARTIFACT_VERIFICATION_REQUESTED


def _moved(current: Artifact, status: ArtifactStatus, at: str, **fields: Any) -> Artifact:
    return Artifact.model_validate(
        {
            **public(current),
            **fields,
            "status": status,
            "updated_at": at,
            "revision": current.revision + 1,
        }
    )


def _differ(current: Artifact, read: Read | None) -> list[str]:
    if read is None:
        return differences(current.size, current.sha256, None, None)
    return differences(current.size, current.sha256, read.size, read.sha256)


def _computed(read: Read | None, at: str) -> dict[str, Any]:
    """What a verdict records of the bytes read."""
    return {
        "computed_sha256": read.sha256 if read else None,
        "computed_size": read.size if read else None,
        "verified_at": at,
    }


def _mismatch(current: Artifact, differ: list[str], read: Read | None) -> DomainRuleError:
    errors = []
    if "sha256" in differ and read is not None:
        errors.append(FieldError("sha256", f"computed {read.sha256}, registered {current.sha256}"))
    if "object" in differ:
        errors.append(FieldError("object", "the uploaded object version is gone"))
    return DomainRuleError(
        f"the uploaded bytes do not match artifact {current.name}'s registration "
        f"({', '.join(differ)}); upload the right bytes, then complete again",
        errors=errors,
    )


def _uploaded(store: TenantStore, key: str, current: Artifact, item: dict[str, Any]) -> Stored:
    """The object version to verify: a multipart upload's, once every part is there and
    the upload is completed; otherwise the key's current version. 409 if nothing is."""
    upload_id = item.get("upload_id")
    if upload_id:
        parts = store.objects.uploaded_parts(key, str(upload_id))
        if parts is not None:
            expected = part_sizes(current.size, int(item["part_size"]))
            _check_parts(parts, expected)
            version_id = store.objects.finish_multipart(key, str(upload_id), parts)
            if version_id is not None:
                return Stored(sum(expected), version_id)
        # Gone: completed by an earlier `complete` whose commit failed (or aborted).
    current_version = store.objects.head(key)
    if current_version is None:
        raise ConflictError(
            f"nothing is uploaded for artifact {current.name} yet: PUT its bytes to the "
            "upload URL, then complete"
        )
    return current_version


def _check_parts(parts: list[Part], expected: list[int]) -> None:
    """Every part there with its planned size (409 while some are missing, 422 if wrong)."""
    numbers = {p.number for p in parts}
    missing = [n for n in range(1, len(expected) + 1) if n not in numbers]
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (" …" if len(missing) > 20 else "")
        raise ConflictError(f"parts {shown} of {len(expected)} are not uploaded yet")
    wrong = [
        FieldError(f"part {p.number}", f"{p.size} bytes, expected {expected[p.number - 1]}")
        for p in parts
        if p.number > len(expected) or p.size != expected[p.number - 1]
    ]
    if wrong:
        raise DomainRuleError("some parts are not the size the upload plan gives", errors=wrong)


# --- the verifier --------------------------------------------------------------------------


def verify(actor: Actor, message: Message) -> str:
    """Consumer of `artifact.verification_requested`: stream the object version and record
    `verified` or `mismatch`, once. A message for a registration that has moved on (it was
    registered again, or a redelivery finds it decided) changes nothing. Returns what it
    did: verified, mismatch or skipped."""
    requested = Artifact.model_validate(message.body["data"])
    store = for_actor(actor)  # the system actor acts in the tenant the message names
    place = Place(requested.model_id, str(requested.version_number), requested.name)
    item = store.artifacts.get(place.model_id, place.number, place.name)
    if item is None or (item["status"], item["revision"]) != (S.VERIFYING, requested.revision):
        return "skipped"
    current = to_model(Artifact, item)
    key = store.objects.key(place.model_id, place.number, place.name)
    read = store.objects.digest(key, str(current.s3_version_id))
    differ = _differ(current, read)
    at = timestamp()
    status = S.MISMATCH if differ else S.VERIFIED
    updated = _moved(current, status, at, mismatched=differ, **_computed(read, at))
    kind = events.ARTIFACT_REJECTED if differ else events.ARTIFACT_VERIFIED
    marker = store.keys.processed(VERIFIER, f"{place.subject}#{current.revision}")
    unit = UnitOfWork().once(marker)
    unit.add(
        "artifact",
        store.artifacts.put_replace(
            stored_record(updated, part_size=item.get("part_size")),
            current.revision,
            status=S.VERIFYING,
        ),
        SupersededError,
    )
    before, after = diff(public(current), public(updated))
    unit.record(kind.name, "artifact", place.subject, before=before, after=after)
    try:
        store.commit(actor, unit.emit(kind.of(updated)))
    except (AlreadyAppliedError, SupersededError):
        return "skipped"
    return str(updated.status)
