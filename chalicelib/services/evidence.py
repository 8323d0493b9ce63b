"""Evidence and comments on an approval request.

Evidence goes on the open stage, added by someone who may decide it (its role, outside the
model's team, deciding no other stage). It takes the artifact's path to counting: it is
registered with the size and SHA-256 its owner claims and answered with a presigned PUT
(`store.objects`, the artifacts' own S3 access, under the tenant's prefix), and counts once
`complete` has read the bytes and computed the same digest and size (`domain.artifacts`'
comparison); a client-sent checksum is never read. Up to the size artifacts are verified in
the call, so is evidence; above it (up to one upload, the multipart threshold: larger is a
413) the artifact verifier consumer reads it, fed by
`approval.evidence_verification_requested` (`verify_later`). Comments come
from anyone holding a role that decides one of the request's stages, outside the team.

Every change replaces the request with a conditional write on its revision (a decision
racing it makes it read again), audited in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.config import settings
from chalicelib.domain import duties, events
from chalicelib.domain.actors import Actor
from chalicelib.domain.approvals import OPEN_REQUEST, ApprovalRequest, ApprovalStage
from chalicelib.domain.artifacts import ArtifactCreate, ArtifactStatus, Upload, differences, is_name
from chalicelib.domain.evidence import (
    MAX_COMMENTS,
    MAX_EVIDENCE,
    CommentAdded,
    CommentCreate,
    Evidence,
    EvidenceRegistered,
    EvidenceView,
)
from chalicelib.domain.ids import is_id
from chalicelib.domain.models import Model
from chalicelib.entrypoints import Message
from chalicelib.errors import (
    ConflictError,
    DomainRuleError,
    FieldError,
    NotFoundError,
    PayloadTooLargeError,
    TransientConflictError,
)
from chalicelib.services.inventory import team
from chalicelib.services.records import public, timestamp, to_model
from chalicelib.store.idempotency import Claim
from chalicelib.store.objects import Read
from chalicelib.store.scope import TenantStore, for_actor
from chalicelib.store.unit import RetryError, UnitOfWork

ATTEMPTS = 10
# A change made: the request as it becomes, what its audit entry records, its event.
Changed = tuple[ApprovalRequest, dict[str, Any], events.DomainEvent]
Change = Callable[[ApprovalRequest, Model, str], Changed]


def register(actor: Actor, request_id: str, body: ArtifactCreate) -> EvidenceRegistered:
    """Add (again: replace a pending) evidence file to the open stage; answer its upload."""
    limit = settings().artifact.multipart_bytes
    if body.size > limit:
        raise PayloadTooLargeError(
            f"evidence is one upload: up to {limit} bytes",
            errors=[FieldError("body.size", f"larger than {limit} bytes")],
        )
    store = for_actor(actor)
    found: dict[str, Any] = {}

    def add(request: ApprovalRequest, model: Model, at: str) -> Changed:
        stage = _stage_for_evidence(actor, request, model)
        kept = [e for e in stage.evidence if e.name != body.name]
        if len(kept) != len(stage.evidence):
            current = next(e for e in stage.evidence if e.name == body.name)
            if current.status is ArtifactStatus.VERIFIED:
                raise ConflictError(f"evidence {body.name} is verified; add it under a new name")
        if len(kept) >= MAX_EVIDENCE:
            raise ConflictError(f"a stage holds at most {MAX_EVIDENCE} evidence files")
        evidence = Evidence.model_validate(
            {
                **body.model_dump(mode="json"),
                "status": ArtifactStatus.PENDING,
                "added_by": actor.principal_id,
                "key_id": actor.key_id,
                "added_at": at,
            }
        )
        updated = _with(request, stage, {"evidence": [*kept, evidence]}, at)
        view = found["view"] = _view(request, stage, evidence)
        return updated, public(view), events.APPROVAL_EVIDENCE_ADDED.of(view)

    request = _change(store, actor, request_id, add)
    seconds = settings().artifact.upload_seconds
    key = store.objects.evidence_key(request.id, body.name)
    upload = Upload(
        url=store.objects.presign_put(key, body.media_type, body.size, seconds),
        headers={"Content-Type": body.media_type},
        expires_at=datetime.now(UTC) + timedelta(seconds=seconds),
        complete=f"/v1/approval-requests/{request.id}/evidence/{body.name}/complete",
    )
    return EvidenceRegistered.model_validate({**public(found["view"]), "upload": upload})


def complete(actor: Actor, request_id: str, name: str) -> tuple[EvidenceView, bool]:
    """The upload is done: read the bytes, and count the evidence if they are what was
    registered (422 naming what differs otherwise, nothing changed); above the size verified
    in the call, the verifier consumer reads them (`verifying`, and True: 202). A verified or
    verifying file is answered as it is."""
    store = for_actor(actor)
    if not is_name(name):
        raise NotFoundError(f"no evidence {name} on {request_id}")
    found: dict[str, Any] = {}

    def verify(request: ApprovalRequest, model: Model, at: str) -> Changed:
        stage, evidence = _evidence(request, name)
        # Its bytes may arrive after the stage closed: completing records what they are.
        _require_evidence_rights(actor, request, model, stage)
        found["view"] = _view(request, stage, evidence)
        if evidence.status is not ArtifactStatus.PENDING:
            raise _Unchanged()
        key = store.objects.evidence_key(request.id, name)
        stored = store.objects.head(key)
        if stored is None:
            raise ConflictError(
                f"nothing is uploaded for evidence {name} yet: PUT it, then complete"
            )
        if stored.size != evidence.size:
            raise _mismatch(name, ["size"])
        if stored.size > settings().artifact.sync_verify_bytes:
            kind, fields = events.APPROVAL_EVIDENCE_VERIFICATION_REQUESTED, {}
            status = ArtifactStatus.VERIFYING
        else:
            read = store.objects.digest(key, stored.version_id)
            differ = _differ(evidence, read)
            if differ:
                raise _mismatch(name, differ)
            kind, status = events.APPROVAL_EVIDENCE_VERIFIED, ArtifactStatus.VERIFIED
            fields = {"computed_sha256": read.sha256 if read else None, "verified_at": at}
        moved = Evidence.model_validate(
            {**public(evidence), **fields, "status": status, "s3_version_id": stored.version_id}
        )
        view = found["view"] = _view(request, stage, moved)
        return _replaced(request, stage, moved, at), public(view), kind.of(view)

    with suppress(_Unchanged):  # verified, or being verified, already: answered as it is
        _change(store, actor, request_id, verify)
    view = EvidenceView.model_validate(found["view"])
    return view, view.status is ArtifactStatus.VERIFYING


def verify_later(actor: Actor, message: Message) -> str:
    """The verifier consumer's part for `approval.evidence_verification_requested`: stream
    the object version and record `verified` or `mismatch`, once (a file that has moved on,
    registered again or decided, is skipped). Returns what it did."""
    requested = EvidenceView.model_validate(message.body["data"])
    store = for_actor(actor)
    found: dict[str, str] = {"did": "skipped"}

    def verdict(request: ApprovalRequest, model: Model, at: str) -> Changed:
        stage, evidence = _evidence(request, requested.name)
        if (evidence.status, evidence.s3_version_id) != (
            ArtifactStatus.VERIFYING,
            requested.s3_version_id,
        ):
            raise _Unchanged()
        key = store.objects.evidence_key(request.id, evidence.name)
        read = store.objects.digest(key, str(evidence.s3_version_id))
        differ = _differ(evidence, read)
        status = ArtifactStatus.MISMATCH if differ else ArtifactStatus.VERIFIED
        fields = {"computed_sha256": read.sha256 if read else None, "verified_at": at}
        moved = Evidence.model_validate({**public(evidence), **fields, "status": status})
        view = _view(request, stage, moved)
        kind = events.APPROVAL_EVIDENCE_MISMATCHED if differ else events.APPROVAL_EVIDENCE_VERIFIED
        found["did"] = str(status)
        return _replaced(request, stage, moved, at), public(view), kind.of(view)

    with suppress(_Unchanged, NotFoundError):
        _change(store, actor, requested.request_id, verdict)
    return found["did"]


def _differ(evidence: Evidence, read: Read | None) -> list[str]:
    if read is None:
        return differences(evidence.size, evidence.sha256, None, None)
    return differences(evidence.size, evidence.sha256, read.size, read.sha256)


def _mismatch(name: str, differ: list[str]) -> DomainRuleError:
    return DomainRuleError(
        f"the uploaded bytes do not match evidence {name} ({', '.join(differ)}); upload the"
        " right bytes, then complete again",
        errors=[FieldError(f, "differs from the registration") for f in differ],
    )


def _replaced(
    request: ApprovalRequest, stage: ApprovalStage, evidence: Evidence, at: str
) -> ApprovalRequest:
    files = [evidence if e.name == evidence.name else e for e in stage.evidence]
    return _with(request, stage, {"evidence": files}, at)


def comment(
    actor: Actor, request_id: str, body: CommentCreate, claim: Claim | None = None
) -> ApprovalRequest:
    """Comment on an open request (see the module docstring)."""
    store = for_actor(actor)

    def add(request: ApprovalRequest, model: Model, at: str) -> Changed:
        duties.require_commenter(
            actor,
            roles={s.role for s in request.stages},
            submitter_id=request.submitted_by,
            members=team(model),
            past_team=[*model.past_team_ids, *request.ineligible_ids],
        )
        if request.status not in OPEN_REQUEST:
            raise ConflictError(f"the request is {request.status}: comments on it are over")
        if len(request.comments) >= MAX_COMMENTS:
            raise ConflictError(f"a request holds at most {MAX_COMMENTS} comments")
        stage = request.open_stage()
        made = {
            "by": actor.principal_id,
            "key_id": actor.key_id,
            "text": body.text,
            "stage": stage.index if stage else None,
            "at": at,
        }
        data = public(request)
        updated = ApprovalRequest.model_validate(
            {
                **data,
                "comments": [*data["comments"], made],
                "updated_at": at,
                "revision": request.revision + 1,
            }
        )
        added = CommentAdded.model_validate(
            {
                "request_id": request.id,
                "model_id": request.model_id,
                "version_number": request.version_number,
                "comment": made,
            }
        )
        return updated, {"comment": made}, events.APPROVAL_COMMENTED.of(added)

    return _change(store, actor, request_id, add, claim)


class _Unchanged(Exception):
    """Nothing to change (a verified file completed again)."""


def _change(
    store: TenantStore,
    actor: Actor,
    request_id: str,
    change: Change,
    claim: Claim | None = None,
) -> ApprovalRequest:
    """Read the request and its model, apply `change`, commit it audited as the event it
    announces; read again when a concurrent change got in first."""
    if not is_id(request_id, "approval_request"):
        raise NotFoundError(f"no approval request {request_id}")
    for _ in range(ATTEMPTS):
        item = store.approvals.get(request_id)
        if item is None:
            raise NotFoundError(f"no approval request {request_id}")
        request = to_model(ApprovalRequest, item)
        model = store.inventory.get_model(request.model_id)
        if model is None:
            raise NotFoundError(f"no model {request.model_id}")
        updated, after, event = change(request, to_model(Model, model), timestamp())
        unit = UnitOfWork().add(
            "request", store.approvals.put_replace(public(updated), request.revision), RetryError
        )
        unit.record(event.type, "approval_request", request_id, after=after).emit(event)
        unit.replay_answer(claim.response(updated) if claim else None)
        try:
            store.commit(actor, unit)
        except RetryError:
            continue
        return updated
    raise TransientConflictError("the request is changing concurrently; retry")


def _stage_for_evidence(actor: Actor, request: ApprovalRequest, model: Model) -> ApprovalStage:
    """The open stage, once the actor may add evidence to it (409 if none is open)."""
    stage = request.open_stage()
    if stage is None or request.status not in OPEN_REQUEST:
        raise ConflictError("evidence goes on an open stage; none is open")
    _require_evidence_rights(actor, request, model, stage)
    return stage


def _require_evidence_rights(
    actor: Actor, request: ApprovalRequest, model: Model, stage: ApprovalStage
) -> None:
    """403 unless the actor may decide `stage` (deciding it already is no bar)."""
    others = {i: d for i, d in request.deciders().items() if i != stage.index}
    duties.require_stage_decider(
        actor,
        stage=stage.index,
        stage_role=stage.role,
        submitter_id=request.submitted_by,
        members=team(model),
        past_team=[*model.past_team_ids, *request.ineligible_ids],
        deciders_by_stage=others,
    )


def _view(request: ApprovalRequest, stage: ApprovalStage, evidence: Evidence) -> EvidenceView:
    return EvidenceView.model_validate(
        {**public(evidence), "request_id": request.id, "stage": stage.index}
    )


def _evidence(request: ApprovalRequest, name: str) -> tuple[ApprovalStage, Evidence]:
    for stage in request.stages:
        for evidence in stage.evidence:
            if evidence.name == name:
                return stage, evidence
    raise NotFoundError(f"no evidence {name} on {request.id}")


def _with(
    request: ApprovalRequest, stage: ApprovalStage, update: dict[str, Any], at: str
) -> ApprovalRequest:
    changed = {**public(stage), **{k: [public(e) for e in v] for k, v in update.items()}}
    return ApprovalRequest.model_validate(
        {
            **public(request),
            "stages": [changed if s.index == stage.index else public(s) for s in request.stages],
            "updated_at": at,
            "revision": request.revision + 1,
        }
    )
