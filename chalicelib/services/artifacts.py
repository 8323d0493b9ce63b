"""Artifacts of a version: registered with the size and SHA-256 their owner claims,
uploaded to S3 through presigned URLs, and verified by Custos reading the bytes itself
(`domain.artifacts` has the statuses; `services.artifact_verification` completes uploads and
reads the bytes). Only drafts take artifacts, and every change is a unit of work with its
audit entry and event.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.config import settings
from chalicelib.domain import duties, events, lifecycle
from chalicelib.domain.actors import Actor
from chalicelib.domain.artifacts import (
    Artifact,
    ArtifactCreate,
    ArtifactRegistered,
    ArtifactStatus,
    ArtifactView,
    Download,
    Upload,
    UploadPart,
    is_name,
    part_size,
    part_sizes,
)
from chalicelib.domain.audit import diff
from chalicelib.domain.ids import is_id
from chalicelib.domain.models import Model
from chalicelib.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    PayloadTooLargeError,
    TransientConflictError,
)
from chalicelib.services import inventory
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.idempotency import Claim
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.unit import RetryError, UnitOfWork

ATTEMPTS = 5
S = ArtifactStatus


class Place:
    """Where an artifact is: a model, a version number and a name, checked for shape (a
    path that cannot name an artifact is a 404, with no read)."""

    def __init__(self, model_id: str, number: str, name: str | None = None) -> None:
        n = int(number) if re.fullmatch(r"[1-9][0-9]{0,5}", number) else None
        if n is None or not is_id(model_id, "model"):
            raise NotFoundError(f"no version {number} of model {model_id}")
        if name is not None and not is_name(name):
            raise NotFoundError(f"no artifact {name} on version {number} of model {model_id}")
        self.model_id, self.number, self.name = model_id, n, name or ""

    @property
    def subject(self) -> str:
        """The artifact's id in the audit trail."""
        return f"{self.model_id}/versions/{self.number}/artifacts/{self.name}"

    @property
    def path(self) -> str:
        return f"/v1/models/{self.model_id}/versions/{self.number}/artifacts"


def _in(when: int) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=when)


def stored_record(artifact: Artifact, **internal: Any) -> dict[str, Any]:
    """The record as stored: the artifact and what only the service reads (upload id)."""
    return {**public(artifact), **{k: v for k, v in internal.items() if v is not None}}


def read_for_change(
    store: TenantStore, actor: Actor, place: Place, doing: str
) -> dict[str, Any] | None:
    """The artifact's record (None if there is none yet), once its model is known to be the
    tenant's (404) and the actor on the model's team (403): one read for both."""
    model, artifact = store.artifacts.get_with_model(place.model_id, place.number, place.name)
    if model is None:
        raise NotFoundError(f"no model {place.model_id}")
    duties.require_team_developer(actor, inventory.team(to_model(Model, model)), doing)
    return artifact


def why_not_draft(actor: Actor, place: Place) -> Exception:
    """Why the version refused the change: it does not exist (404) or left draft (409)."""
    try:
        version = inventory.get_version(actor, place.model_id, str(place.number))
        lifecycle.require_editable(version.status, version.number, "take artifacts")
    except (NotFoundError, ConflictError) as exc:
        return exc
    return RetryError()  # a draft again by now: try once more


# --- registering -------------------------------------------------------------------------


def register(
    actor: Actor, model_id: str, number: str, body: ArtifactCreate, claim: Claim | None = None
) -> ArtifactRegistered:
    """Register an artifact on a draft version (again: replace its record) and answer how to
    upload it. Above the multipart threshold the upload is multipart, in parts of at least
    5 MiB; the presigned URLs are made after the commit and never stored."""
    store = for_actor(actor)
    place = Place(model_id, number, body.name)
    current = read_for_change(store, actor, place, "register artifacts")
    limits = settings().artifact
    if body.size > limits.max_bytes:
        raise PayloadTooLargeError(
            f"the artifact is {body.size} bytes; the limit is {limits.max_bytes}",
            errors=[FieldError("body.size", f"larger than {limits.max_bytes} bytes")],
        )
    key = store.objects.key(place.model_id, place.number, place.name)
    multipart = body.size > limits.multipart_bytes
    part_bytes = part_size(body.size, limits.part_bytes) if multipart else None
    upload_id = store.objects.start_multipart(key, body.media_type) if multipart else None
    try:
        internal = {"upload_id": upload_id, "part_size": part_bytes}
        artifact, replaced = _commit_registration(
            store, actor, place, body, internal, claim, current
        )
    except BaseException:
        if upload_id is not None:
            _abort_quietly(store, key, upload_id)
        raise
    if replaced and replaced.get("upload_id"):  # the replaced record's upload is over
        _abort_quietly(store, key, str(replaced["upload_id"]))
    upload = _upload(store, key, artifact, place, upload_id, part_bytes)
    return ArtifactRegistered.model_validate({**public(artifact), "upload": upload})


def _commit_registration(
    store: TenantStore,
    actor: Actor,
    place: Place,
    body: ArtifactCreate,
    internal: dict[str, Any],
    claim: Claim | None,
    current: dict[str, Any] | None,
) -> tuple[Artifact, dict[str, Any] | None]:
    for attempt in range(ATTEMPTS):
        if attempt:  # lost a race with another registration of the name: look again
            current = store.artifacts.get(place.model_id, place.number, place.name)
        at = timestamp()
        artifact = Artifact.model_validate(
            {
                "model_id": place.model_id,
                "version_number": place.number,
                **body.model_dump(mode="json"),
                "status": S.PENDING,
                "multipart": internal["upload_id"] is not None,
                "created_by": actor.principal_id,
                "created_at": at,
                "updated_at": at,
                # Revisions go on counting across replacements: a verdict on an earlier
                # registration never lands on a later one.
                "revision": int(current["revision"]) + 1 if current else 1,
            }
        )
        record = stored_record(artifact, **internal)
        unit = UnitOfWork().add(
            "version",
            store.artifacts.change_on_draft(place.model_id, place.number),
            lambda: why_not_draft(actor, place),
        )
        if current is None:
            unit.add("artifact", store.artifacts.put_new(record), RetryError)
            unit.record("artifact.registered", "artifact", place.subject, after=public(artifact))
            unit.emit(events.ARTIFACT_REGISTERED.of(artifact))
        else:
            revision = int(current["revision"])
            unit.add("artifact", store.artifacts.put_replace(record, revision), RetryError)
            before, after = diff(public(to_model(Artifact, current)), public(artifact))
            unit.record("artifact.replaced", "artifact", place.subject, before=before, after=after)
            unit.emit(events.ARTIFACT_REPLACED.of(artifact))
        if claim is not None:  # a replay answers without URLs: they are never stored
            stored = ArtifactRegistered.model_validate({**public(artifact), "upload": None})
            unit.replay_answer(claim.response(stored))
        try:
            store.commit(actor, unit)
        except RetryError:
            continue
        return artifact, current
    raise TransientConflictError("the artifact is being registered concurrently; retry")


def _abort_quietly(store: TenantStore, key: str, upload_id: str) -> None:
    """Abort an upload nobody will complete; if that fails, the bucket's lifecycle rule
    aborts it after a week, so the request that got here is not failed for it."""
    try:
        store.objects.abort_multipart(key, upload_id)
    except Exception:
        return


def _upload(
    store: TenantStore,
    key: str,
    artifact: Artifact,
    place: Place,
    upload_id: str | None,
    part_bytes: int | None,
) -> Upload:
    seconds = settings().artifact.upload_seconds
    complete = f"{place.path}/{place.name}/complete"
    if upload_id is None or part_bytes is None:
        url = store.objects.presign_put(key, artifact.media_type, artifact.size, seconds)
        return Upload(
            url=url,
            headers={"Content-Type": artifact.media_type},
            expires_at=_in(seconds),
            complete=complete,
        )
    parts = [
        UploadPart(
            number=n, size=size, url=store.objects.presign_part(key, upload_id, n, size, seconds)
        )
        for n, size in enumerate(part_sizes(artifact.size, part_bytes), start=1)
    ]
    return Upload(
        headers={}, part_size=part_bytes, parts=parts, expires_at=_in(seconds), complete=complete
    )


# --- reading -------------------------------------------------------------------------------


def current_item(store: TenantStore, place: Place) -> dict[str, Any]:
    """The artifact's record; 404 if the tenant has none there."""
    return found(place, store.artifacts.get(place.model_id, place.number, place.name))


def found(place: Place, item: dict[str, Any] | None) -> dict[str, Any]:
    """`item`, or the 404 of an artifact that is not there."""
    if item is None:
        raise NotFoundError(
            f"no artifact {place.name} on version {place.number} of model {place.model_id}"
        )
    return item


def get(actor: Actor, model_id: str, number: str, name: str) -> ArtifactView:
    """An artifact, with a short-lived download URL of exactly the verified object version
    once it is verified."""
    store = for_actor(actor)
    place = Place(model_id, number, name)
    artifact = to_model(Artifact, current_item(store, place))
    download = None
    if artifact.status is S.VERIFIED and artifact.s3_version_id:
        seconds = settings().artifact.download_seconds
        key = store.objects.key(place.model_id, place.number, place.name)
        download = Download(
            url=store.objects.presign_get(key, artifact.s3_version_id, seconds),
            s3_version_id=artifact.s3_version_id,
            expires_at=_in(seconds),
        )
    return ArtifactView.model_validate({**public(artifact), "download": download})


def list_artifacts(
    actor: Actor, model_id: str, number: str, limit: int, cursor_text: str | None
) -> tuple[list[Artifact], str | None]:
    """A page of a version's artifacts by name; 404 if the version is not the tenant's."""
    store = for_actor(actor)
    place = Place(model_id, number)
    items, next_cursor = store.page(
        lambda n, start: store.artifacts.list_page(place.model_id, place.number, n, start),
        query="artifacts",
        limit=limit,
        cursor_text=cursor_text,
        model=place.model_id,
        number=place.number,
    )
    if not items and cursor_text is None:  # an empty first page: 404 if no such version
        inventory.get_version(actor, place.model_id, number)
    return [to_model(Artifact, i) for i in items], next_cursor
