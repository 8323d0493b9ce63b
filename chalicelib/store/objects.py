"""Artifact bytes in S3, bound to one tenant: every key is the tenant's, built by its
`TenantKeys`, and checked to stay under `tenants/<tenant>/` before anything is signed or
read. The only code that talks to S3.

Presigned URLs are signed here with the caller's credentials (the Lambda role's on AWS), so
that role holds each permission a URL grants; they point at the client's endpoint (the
local stack's moto server under `make run`, S3 itself on AWS). Digests are computed by
streaming the object in chunks: memory does not grow with its size, and a checksum a
client sent with its upload is never read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from chalicelib.bootstrap import client
from chalicelib.config import settings
from chalicelib.store.aws_errors import is_transient, unavailable
from chalicelib.store.keys import TenantKeys

CHUNK = 1024 * 1024  # bytes read and hashed at a time
PARTS_PAGE = 1000  # what one ListParts answers at most
MISSING = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NoSuchUpload", "NotFound"})
# A HEAD of a delete marker answers 405 (the object was deleted): nothing uploaded there.
DELETED = frozenset({"405", "MethodNotAllowed"})


# NamedTuples, not dataclasses: every cold start imports this module, and @dataclass
# compiles its generated methods at import.
class Stored(NamedTuple):
    """An object version as S3 describes it."""

    size: int
    version_id: str


class Read(NamedTuple):
    """What streaming an object version gave: its SHA-256 and its size."""

    sha256: str
    size: int


class Part(NamedTuple):
    number: int
    size: int
    etag: str


def _s3() -> Any:
    return client("s3")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _translated(exc: Exception) -> Exception:
    """A transient failure as the 503 it answers; anything else as it is."""
    return unavailable(exc) if is_transient(exc) else exc


class ArtifactObjects:
    """The artifact objects of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys

    @property
    def bucket(self) -> str:
        return settings().bucket

    def key(self, model_id: str, number: int, name: str) -> str:
        """The S3 key of an artifact of this tenant; refuses one that would leave its prefix."""
        key = self.keys.object_key(model_id, number, name)
        self._inside(key)
        return key

    def evidence_key(self, request_id: str, name: str) -> str:
        """The S3 key of an evidence file of this tenant's approval request `request_id`."""
        key = self.keys.evidence_object_key(request_id, name)
        self._inside(key)
        return key

    def _inside(self, key: str) -> None:
        # Names and ids are validated before they get here; this is the last line, so a
        # presigned URL can never reach another tenant's objects whatever a caller passes.
        segments = key.removeprefix(self.keys.objects).split("/")
        if (
            not key.startswith(self.keys.objects)
            or any(s in ("", ".", "..") for s in segments)
            or any(ord(c) < 0x20 or ord(c) == 0x7F for c in key)
        ):
            raise ValueError(f"{key!r} is not an object key of tenant {self.keys.tenant_id}")

    # --- presigned URLs (signed locally: no AWS call) ------------------------------------

    def presign_put(self, key: str, media_type: str, size: int, seconds: int) -> str:
        """A URL that PUTs the object, with `Content-Type: media_type` and exactly `size`
        bytes: both are signed, so S3 refuses another type or length (moto does not check;
        the digest read at completion does not depend on it)."""
        self._inside(key)
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "ContentType": media_type,
            "ContentLength": size,
        }
        return str(_s3().generate_presigned_url("put_object", Params=params, ExpiresIn=seconds))

    def presign_part(self, key: str, upload_id: str, number: int, size: int, seconds: int) -> str:
        """A URL that PUTs part `number` of the multipart upload `upload_id`, of exactly
        `size` bytes (signed)."""
        self._inside(key)
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": number,
            "ContentLength": size,
        }
        return str(_s3().generate_presigned_url("upload_part", Params=params, ExpiresIn=seconds))

    def presign_get(self, key: str, version_id: str, seconds: int) -> str:
        """A URL that GETs exactly the object version `version_id`."""
        self._inside(key)
        params = {"Bucket": self.bucket, "Key": key, "VersionId": version_id}
        return str(_s3().generate_presigned_url("get_object", Params=params, ExpiresIn=seconds))

    # --- multipart uploads ---------------------------------------------------------------

    def start_multipart(self, key: str, media_type: str) -> str:
        """Start a multipart upload of `key`; returns its upload id."""
        self._inside(key)
        try:
            answer = _s3().create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=media_type
            )
        except ClientError as exc:
            raise _translated(exc) from exc
        return str(answer["UploadId"])

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Abort an upload; one already gone (completed, aborted) is left alone."""
        self._inside(key)
        try:
            _s3().abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if _code(exc) not in MISSING:
                raise _translated(exc) from exc

    def uploaded_parts(self, key: str, upload_id: str) -> list[Part] | None:
        """The parts uploaded so far, by number; None when the upload no longer exists."""
        self._inside(key)
        parts: list[Part] = []
        marker = 0
        while True:
            try:
                answer = _s3().list_parts(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MaxParts=PARTS_PAGE,
                    PartNumberMarker=marker,
                )
            except ClientError as exc:
                if _code(exc) in MISSING:
                    return None
                raise _translated(exc) from exc
            parts += [
                Part(int(p["PartNumber"]), int(p["Size"]), str(p["ETag"]))
                for p in answer.get("Parts", [])
            ]
            if not answer.get("IsTruncated"):
                return parts
            marker = int(answer["NextPartNumberMarker"])

    def finish_multipart(self, key: str, upload_id: str, parts: list[Part]) -> str | None:
        """Complete the upload from `parts`; returns the object version it made, or None
        when the upload no longer exists."""
        self._inside(key)
        listed = [{"PartNumber": p.number, "ETag": p.etag} for p in parts]
        try:
            answer = _s3().complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": listed},
            )
        except ClientError as exc:
            if _code(exc) in MISSING:
                return None
            raise _translated(exc) from exc
        return str(answer["VersionId"])

    # --- reading -------------------------------------------------------------------------

    def latest_artifact_objects(self) -> Iterator[tuple[str, int, str, str | None]]:
        """Every artifact key of the tenant with its current version id (None when the key's
        latest version is a delete marker), as (model id, version number, name, version id)
        in key order: one walk of ListObjectVersions pages, memory one page at a time."""
        prefix = f"{self.keys.objects}models/"
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": 1000}
        more = True
        while more:
            latest, more = self._latest_versions(params)
            for key, version_id in latest:
                parts = key.removeprefix(prefix).split("/")
                # models/<model>/versions/<number>/artifacts/<name>
                if len(parts) == 5 and parts[1] == "versions" and parts[3] == "artifacts":
                    yield parts[0], int(parts[2]), parts[4], version_id or None
            del latest  # not held while the next page is read

    def _latest_versions(self, params: dict[str, Any]) -> tuple[list[tuple[str, str]], bool]:
        """One ListObjectVersions page: each key's latest version id ("" for a delete
        marker), in key order, and whether more pages follow (`params` then points at the
        next). Only those pairs outlive the call: the parsed page is dropped before the
        walk goes on, so two pages are never held at once."""
        try:
            answer = _s3().list_object_versions(**params)
        except ClientError as exc:
            raise _translated(exc) from exc
        latest = [
            (str(v["Key"]), str(v.get("VersionId") or "null"))
            for v in answer.get("Versions") or []
            if v.get("IsLatest")
        ]
        latest += [
            (str(m["Key"]), "") for m in answer.get("DeleteMarkers") or [] if m.get("IsLatest")
        ]
        more = bool(answer.get("IsTruncated"))
        if more:
            params["KeyMarker"] = answer.get("NextKeyMarker")
            params["VersionIdMarker"] = answer.get("NextVersionIdMarker")
        return sorted(latest), more

    def head(self, key: str) -> Stored | None:
        """The current version of `key` and its size; None if nothing is there."""
        self._inside(key)
        try:
            answer = _s3().head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in MISSING | DELETED:
                return None
            raise _translated(exc) from exc
        return Stored(int(answer["ContentLength"]), str(answer.get("VersionId") or "null"))

    def digest(self, key: str, version_id: str) -> Read | None:
        """Stream the object version and compute its SHA-256 and size; None if it is gone.

        The body is read CHUNK bytes at a time, so memory stays flat however large the
        object; a connection that breaks midway is a transient failure (503, or the
        message comes back to the consumer)."""
        import hashlib

        self._inside(key)
        try:
            answer = _s3().get_object(Bucket=self.bucket, Key=key, VersionId=version_id)
        except ClientError as exc:
            if _code(exc) in MISSING | DELETED:
                return None
            raise _translated(exc) from exc
        body = answer["Body"]
        sha256 = hashlib.sha256()
        size = 0
        try:
            for chunk in body.iter_chunks(CHUNK):
                sha256.update(chunk)
                size += len(chunk)
        except Exception as exc:
            raise _translated(exc) from exc
        finally:
            body.close()
        return Read(sha256.hexdigest(), size)
