"""What deciders add to an approval request beside their decisions: evidence files on the
open stage (a validation report, test results), uploaded and verified the way artifacts
are (registered with the size and SHA-256 claimed, PUT through a presigned URL, counted
once Custos has read the bytes and computed the same), and comments.

Both live on their stage, inside the request's item, so the request reads in one GetItem;
hence the caps on how many a request holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from chalicelib.domain.artifacts import ArtifactKind, ArtifactStatus, Upload
from chalicelib.domain.models import Inbound, Outbound

MAX_EVIDENCE = 20  # files per stage
MAX_COMMENTS = 50  # comments per request
CommentText = Annotated[str, StringConstraints(min_length=1, max_length=4_000)]


class Evidence(Outbound):
    name: str
    kind: ArtifactKind
    media_type: str
    size: int = Field(description="As registered")
    sha256: str = Field(description="As registered")
    status: ArtifactStatus = Field(description="pending until Custos has read the bytes")
    s3_version_id: str | None = Field(default=None, description="The object version verified")
    computed_sha256: str | None = Field(default=None, description="What Custos computed")
    verified_at: datetime | None = None
    added_by: str
    key_id: str = Field(description="The API key it was added with")
    added_at: datetime


class EvidenceView(Evidence):
    """An evidence file, with where it sits."""

    request_id: str
    stage: int


class EvidenceRegistered(EvidenceView):
    upload: Upload = Field(description="PUT the bytes here, then POST `complete`")


class Comment(Outbound):
    by: str
    key_id: str
    text: str
    stage: int | None = Field(description="The stage open when it was made (null: none yet)")
    at: datetime


class CommentAdded(Outbound):
    """`approval.commented`: a comment on a request, for whoever follows it."""

    request_id: str
    model_id: str
    version_number: int
    comment: Comment


class CommentCreate(Inbound):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"text": "Back-test on the 2024 book attached."}]}
    )

    text: CommentText
