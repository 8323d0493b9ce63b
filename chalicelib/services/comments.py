"""Comments on an approval request: by anyone holding a role that decides one of its
stages, outside the model's team, while it is open; kept on the request (capped, so it
stays one item), with the stage open when each was made."""

from __future__ import annotations

from chalicelib.domain import duties, events
from chalicelib.domain.actors import Actor
from chalicelib.domain.approvals import OPEN_REQUEST, ApprovalRequest
from chalicelib.domain.evidence import MAX_COMMENTS, CommentAdded, CommentCreate
from chalicelib.domain.models import Model
from chalicelib.errors import ConflictError
from chalicelib.services.inventory import team
from chalicelib.services.records import public
from chalicelib.services.request_edits import Changed, edit
from chalicelib.store.idempotency import Claim
from chalicelib.store.scope import for_actor


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

    return edit(store, actor, request_id, add, claim)
