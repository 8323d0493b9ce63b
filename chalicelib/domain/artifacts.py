"""Artifacts: the files of a version (model, documentation, data samples), as shapes and rules.

An artifact is registered on a draft version with the size and SHA-256 its owner claims,
uploaded straight to S3 through presigned URLs, and counts only once Custos has read the
bytes itself and computed the same digest and size (a client-sent checksum is never
trusted). Its status:

| from | to | when |
|---|---|---|
| (any) | pending | registered (again: replaces the record while the version is a draft) |
| pending | verified | `complete` of a small object read and found to match, in the call |
| pending | verifying | `complete` of a larger object: a queue consumer reads it |
| verifying | verified, mismatch | the consumer's verdict |

A `complete` whose small object differs is refused (422) and changes nothing: the artifact
stays pending, and another upload may follow.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from chalicelib.domain.models import Inbound, ListPage, Outbound

MIB = 1024 * 1024
MIN_PART_BYTES = 5 * MIB  # S3: every part but the last is at least 5 MiB
MAX_PARTS = 10_000  # S3: parts of one multipart upload
MAX_OBJECT_BYTES = 5 * 1024**4  # S3: the largest object (5 TiB)
MAX_NAME = 200
# A name is one path segment: letters, digits, '_' and '-', in runs joined by single dots.
# So no separator, no '..', no leading or trailing dot, nothing to escape in a URL or an S3
# key. Python's, Rust's and ECMA's regexes read it alike (the fuzzer generates from it).
NAME_PATTERN = r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$"
# RFC 6838 type/subtype names (restricted-name), no parameters: it is sent as Content-Type.
MEDIA_TYPE_PATTERN = (
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"
)
SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"


@cache
def _name_pattern() -> re.Pattern[str]:
    return re.compile(NAME_PATTERN)


def check_name(value: str) -> str:
    """`value` if it may name an artifact, else a validation error saying why."""
    if "/" in value or "\\" in value:
        raise PydanticCustomError("artifact_name_separator", "must not contain / or \\")
    if ".." in value:
        raise PydanticCustomError("artifact_name_dots", "must not contain ..")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise PydanticCustomError("artifact_name_control", "must not contain control characters")
    if not _name_pattern().fullmatch(value):
        raise PydanticCustomError(
            "artifact_name",
            "may hold letters, digits, '_', '-' and single dots between them (no leading or "
            "trailing dot)",
        )
    return value


def is_name(value: str) -> bool:
    """Whether `value` may name an artifact (a path parameter that cannot is a 404)."""
    return len(value) <= MAX_NAME and _name_pattern().fullmatch(value) is not None


ArtifactName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_NAME),
    AfterValidator(check_name),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": NAME_PATTERN}
    ),
]
Sha256 = Annotated[
    str,
    StringConstraints(min_length=64, max_length=64, pattern=SHA256_PATTERN),
    AfterValidator(str.lower),
]
MediaType = Annotated[str, StringConstraints(max_length=255, pattern=MEDIA_TYPE_PATTERN)]


def _whole_number(value: Any) -> Any:
    """JSON Schema counts 5.0 as an integer; so do we (strict mode would refuse it)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Size = Annotated[
    int,
    Field(gt=0, le=MAX_OBJECT_BYTES, description="Bytes; the limit is a setting"),
    BeforeValidator(_whole_number),
]


class ArtifactKind(StrEnum):
    MODEL = "model"
    DOCUMENTATION = "documentation"
    DATASET_SAMPLE = "dataset-sample"
    OTHER = "other"


class ArtifactStatus(StrEnum):
    PENDING = "pending"
    VERIFYING = "verifying"
    VERIFIED = "verified"
    MISMATCH = "mismatch"


EXAMPLE_CONTENT = b"Custos example artifact: a model file of 64 bytes, give or take.\n"
EXAMPLE_SHA256 = "74ffae930252f977eec4a4105048d0bfa9f882937bbe0d18e85aec8a52960ac9"


class ArtifactCreate(Inbound):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "model.onnx",
                    "kind": "model",
                    "media_type": "application/octet-stream",
                    "size": len(EXAMPLE_CONTENT),
                    "sha256": EXAMPLE_SHA256,
                }
            ]
        }
    )
    # The bytes the example's size and digest describe: what the harness uploads.
    example_content: ClassVar[bytes] = EXAMPLE_CONTENT

    name: ArtifactName
    kind: ArtifactKind
    media_type: MediaType = Field(description="Sent as the upload's Content-Type")
    size: Size
    sha256: Sha256 = Field(description="The SHA-256 of the bytes, 64 hex characters")


EXAMPLE: dict[str, Any] = {
    "model_id": "mdl_01JDQ4W9V3N8Y6Z5X2K7M1P0RS",
    "version_number": 1,
    "name": "model.onnx",
    "kind": "model",
    "media_type": "application/octet-stream",
    "size": len(EXAMPLE_CONTENT),
    "sha256": EXAMPLE_SHA256,
    "status": "verified",
    "multipart": False,
    "s3_version_id": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
    "computed_sha256": EXAMPLE_SHA256,
    "computed_size": len(EXAMPLE_CONTENT),
    "mismatched": [],
    "verified_at": "2026-12-01T09:00:02.000Z",
    "created_by": "prn_01JDQ4W9V3N8Y6Z5X2K7M1P0RT",
    "created_at": "2026-12-01T09:00:00.000Z",
    "updated_at": "2026-12-01T09:00:02.000Z",
    "revision": 2,
}


class Artifact(Outbound):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    model_id: str
    version_number: int
    name: str
    kind: ArtifactKind
    media_type: str
    size: int = Field(description="As registered")
    sha256: str = Field(description="As registered")
    status: ArtifactStatus
    multipart: bool = Field(description="Uploaded in parts")
    s3_version_id: str | None = Field(
        default=None,
        description="The S3 object version Custos verified (while verifying: is reading)",
    )
    computed_sha256: str | None = Field(default=None, description="What Custos computed")
    computed_size: int | None = None
    mismatched: list[str] = Field(
        default_factory=list,
        description="What differs from the registration: size, sha256, or object (gone)",
    )
    verified_at: datetime | None = Field(default=None, description="When Custos read it")
    created_by: str
    created_at: datetime
    updated_at: datetime
    revision: int


class UploadPart(Outbound):
    number: int
    size: int
    url: str


class Upload(Outbound):
    """How to send the bytes: one PUT of `url` with `headers`, or a PUT of each part's URL
    (any order, in parallel), then `POST complete`."""

    method: str = "PUT"
    url: str | None = Field(default=None, description="The single upload; null for multipart")
    headers: dict[str, str] = Field(
        description=(
            "Send exactly these with the PUT; Content-Length is signed too: the upload (each "
            "part) must be exactly its size"
        )
    )
    part_size: int | None = Field(default=None, description="Every part but the last")
    parts: list[UploadPart] = Field(default_factory=list)
    expires_at: datetime = Field(description="Each URL is refused after this")
    complete: str = Field(description="POST here once the bytes are uploaded")


class ArtifactRegistered(Artifact):
    upload: Upload | None = Field(
        description=(
            "Null in an Idempotency-Key replay: presigned URLs are never stored; register "
            "again (it replaces the pending record) for fresh ones"
        )
    )


class Download(Outbound):
    url: str
    s3_version_id: str = Field(description="Exactly the object version Custos verified")
    expires_at: datetime


class ArtifactView(Artifact):
    download: Download | None = Field(description="Present once verified")


class ArtifactList(ListPage):
    items: list[Artifact]


def part_size(size: int, preferred: int) -> int:
    """The part size of a multipart upload of `size` bytes: `preferred`, at least S3's 5 MiB,
    and large enough that the parts number at most 10,000 (whole MiB)."""
    smallest = -(-size // MAX_PARTS)
    chosen = max(preferred, MIN_PART_BYTES, smallest)
    return -(-chosen // MIB) * MIB


def part_sizes(size: int, part_bytes: int) -> list[int]:
    """The size of each part, in order: full parts, then the remainder."""
    full, rest = divmod(size, part_bytes)
    return [part_bytes] * full + ([rest] if rest else [])


def differences(
    size: int, sha256: str, computed_size: int | None, computed_sha256: str | None
) -> list[str]:
    """What the bytes read differ in from the registration (none: they match)."""
    if computed_size is None or computed_sha256 is None:
        return ["object"]
    found = []
    if computed_size != size:
        found.append("size")
    if computed_sha256 != sha256:
        found.append("sha256")
    return found
