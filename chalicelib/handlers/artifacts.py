"""The artifact verifier: reads an uploaded object (an artifact, or an approval request's
evidence file) and records what Custos computed."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.domain.actors import Actor, SystemPart
from chalicelib.entrypoints import Message, Queue, consumer

bp = Blueprint(__name__)

# The longest verification: a 5 GiB artifact read at the slowest rate we would accept
# (about 6 MB/s) still ends inside Lambda's 15 minutes (the README has the measured rate).
VERIFY_TIMEOUT = 900
# Takes `artifact.verification_requested` and `approval.evidence_verification_requested`
# from the fan-out topic. The visibility timeout is
# six times the function's, as AWS advises for SQS event sources: a message is never handed
# to a second verifier while the first may still be reading it.
ARTIFACT_VERIFICATIONS = Queue(
    logical_id="ArtifactVerifications",
    env_var="CUSTOS_ARTIFACT_VERIFICATIONS_QUEUE_URL",
    visibility_timeout_seconds=6 * VERIFY_TIMEOUT,
    subscribes_to=("artifact.verification_requested", "approval.evidence_verification_requested"),
)


def _requested_example() -> dict[str, Any]:
    from chalicelib.domain.artifacts import EXAMPLE

    data = {**EXAMPLE, "status": "verifying", "computed_sha256": None, "computed_size": None}
    return {
        "id": "evt_example",
        "type": "artifact.verification_requested",
        "tenant_id": "",
        "data": {**data, "verified_at": None, "revision": 1},
    }


@consumer(
    bp,
    function="verify_artifact",
    queue_decl=ARTIFACT_VERIFICATIONS,
    part=SystemPart.VERIFIER,
    # One message a run: each may read gigabytes, and a batch shares one timeout.
    batch_size=1,
    timeout_seconds=VERIFY_TIMEOUT,
    example=_requested_example,
)
def verify_artifact(actor: Actor, message: Message) -> None:
    """Stream the object version and record `verified` or `mismatch`, once: an artifact's,
    or an approval request's evidence file."""
    body = message.body if isinstance(message.body, dict) else {}
    if body.get("type") == "approval.evidence_verification_requested":
        from chalicelib.services import evidence

        evidence.verify_later(actor, message)
        return
    from chalicelib.services import artifact_verification

    artifact_verification.verify(actor, message)
