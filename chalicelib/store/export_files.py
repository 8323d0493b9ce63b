"""Export files in the exports bucket, bound to one tenant: every key is under
`tenants/<tenant>/exports/`, built by its `TenantKeys` and checked before anything is
written or signed. The exports bucket's counterpart of `store/objects.py`.

A file is streamed to S3 with a multipart upload as its bytes are made: a part goes up
each time the buffer reaches the part size, so memory stays flat however large the file
(one part, plus the page being encoded). The SHA-256 and size are computed on the way.
Download URLs are presigned GETs, signed locally at each read (no AWS call), never stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, NamedTuple

from chalicelib.bootstrap import client
from chalicelib.config import settings
from chalicelib.store.aws_errors import is_transient, unavailable
from chalicelib.store.keys import TenantKeys


class Written(NamedTuple):
    """What streaming a file gave: its size, SHA-256 and parts."""

    byte_size: int
    sha256: str
    parts: int


Part = dict[str, Any]  # a completed part, as CompleteMultipartUpload takes it


def _s3() -> Any:
    return client("s3")


class ExportFiles:
    """The export files of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys

    @property
    def bucket(self) -> str:
        return settings().exports.bucket

    def key(self, export_id: str, extension: str) -> str:
        """The S3 key of an export's file; refuses one that would leave the tenant's prefix."""
        key = self.keys.export_object_key(export_id, extension)
        prefix = f"{self.keys.objects}exports/"
        name = key.removeprefix(prefix)
        if not key.startswith(prefix) or "/" in name or name.startswith(".") or ".." in name:
            raise ValueError(f"{key!r} is not an export key of tenant {self.keys.tenant_id}")
        return key

    def write(self, key: str, chunks: Iterable[bytes], media_type: str) -> Written:
        """Stream `chunks` to `key` as one multipart upload (aborted if anything fails)."""
        part_bytes = settings().exports.part_bytes
        s3 = _s3()
        try:
            upload_id = s3.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=media_type
            )["UploadId"]
        except Exception as exc:
            _raise_translated(exc)
            raise
        digest, size = hashlib.sha256(), 0
        parts: list[Part] = []
        buffer = bytearray()
        try:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                buffer += chunk
                while len(buffer) >= part_bytes:
                    parts.append(self._part(key, upload_id, len(parts) + 1, buffer[:part_bytes]))
                    del buffer[:part_bytes]
            if buffer or not parts:  # the last part may be small; a file has at least one
                parts.append(self._part(key, upload_id, len(parts) + 1, bytes(buffer)))
            s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except Exception as exc:
            self._abort(key, upload_id)
            _raise_translated(exc)
            raise
        return Written(size, digest.hexdigest(), len(parts))

    def _part(
        self, key: str, upload_id: str, number: int, data: bytes | bytearray
    ) -> dict[str, Any]:
        answer = _s3().upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(data)
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def _abort(self, key: str, upload_id: str) -> None:
        # Best effort: the bucket's lifecycle rule removes an upload left incomplete.
        try:
            _s3().abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except Exception:  # the first failure is the one to report
            return

    def presign_get(self, key: str, filename: str, seconds: int) -> str:
        """A URL that GETs the file, as an attachment named `filename`, for `seconds`."""
        if not key.startswith(f"{self.keys.objects}exports/"):
            raise ValueError(f"{key!r} is not an export key of tenant {self.keys.tenant_id}")
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
        }
        return str(_s3().generate_presigned_url("get_object", Params=params, ExpiresIn=seconds))


def _raise_translated(exc: Exception) -> None:
    """Raise a transient failure as the 503 it answers (anything else is raised as it is)."""
    if is_transient(exc):
        raise unavailable(exc) from exc
