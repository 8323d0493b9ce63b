"""The audit chain's anchors: the chain head written to S3 under Object Lock (compliance
mode), one object per anchored sequence number, and a record of each in the tenant's
anchor partition (what `GET /v1/audit/anchors` lists and the schedule compares with).

The objects live in a bucket of their own (`Anchors`: versioned, Object Lock enabled, a
compliance-mode default retention), under the tenant's prefix. No role of the app may
delete an object version, bypass a retention or change the bucket's lock
(`infra/cdk/access.py`); in compliance mode nobody can shorten one, the account's root
included. The table's writers can rewrite the table, never these objects.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.bootstrap import client
from chalicelib.store import dynamo
from chalicelib.store.aws_errors import is_transient, unavailable
from chalicelib.store.keys import ANCHOR_PREFIX, TenantKeys

Item = dict[str, Any]
Page = tuple[list[Item], dict[str, Any] | None]
LOCK_MODE = "COMPLIANCE"
VERSIONS_PAGE = 1000  # what one ListObjectVersions answers at most


def bucket() -> str:
    """The anchors bucket's name (`CUSTOS_ANCHORS_BUCKET`)."""
    return os.environ.get("CUSTOS_ANCHORS_BUCKET", "custos-anchors")


def _translated(exc: ClientError) -> Exception:
    return unavailable(exc) if is_transient(exc) else exc


class Anchors:
    """The anchors of the tenant `keys` is bound to."""

    def __init__(self, tenant_keys: TenantKeys) -> None:
        self.keys = tenant_keys

    # --- records (DynamoDB) --------------------------------------------------------

    def latest(self) -> Item | None:
        """The record of the highest sequence number anchored, or None."""
        items, _ = dynamo.query(
            partition=("pk", self.keys.anchors),
            sort_prefix=("sk", ANCHOR_PREFIX),
            limit=1,
            forward=False,
            consistent=True,
        )
        return items[0] if items else None

    def record_op(self, record: Item) -> dict[str, Any]:
        """Create the record of an anchor (once per sequence number)."""
        return dynamo.create_op(
            self.keys.anchor(int(record["seq"])), {"tenant_id": self.keys.tenant_id, **record}
        )

    def list_page(self, limit: int, start: dict[str, Any] | None) -> Page:
        """A page of the anchor records, oldest first."""
        return dynamo.query(
            partition=("pk", self.keys.anchors),
            sort_prefix=("sk", ANCHOR_PREFIX),
            limit=limit,
            start_key=start,
        )

    # --- objects (S3, Object Lock) -----------------------------------------------

    def put_object(self, seq: int, body: bytes, retain_until: datetime) -> tuple[str, str]:
        """Write the anchor of `seq` locked in compliance mode until `retain_until`;
        returns (key, version id). A second PUT of one key makes a new version: the
        first stays, locked, and the record names the version it was written as."""
        key = self.keys.anchor_object_key(seq)
        try:
            answer = client("s3").put_object(
                Bucket=bucket(),
                Key=key,
                Body=body,
                ContentType="application/json",
                ObjectLockMode=LOCK_MODE,
                ObjectLockRetainUntilDate=retain_until,
                # Object Lock takes a PUT only with an integrity checksum.
                ChecksumAlgorithm="SHA256",
            )
        except ClientError as exc:
            raise _translated(exc) from exc
        return key, str(answer["VersionId"])

    def read_object(self, key: str, version_id: str) -> Item:
        """The anchor object version `version_id` of `key` (this tenant's), parsed."""
        if not key.startswith(self.keys.anchor_objects):
            raise ValueError(f"{key} is not an anchor of this tenant")
        try:
            answer = client("s3").get_object(Bucket=bucket(), Key=key, VersionId=version_id)
        except ClientError as exc:
            raise _translated(exc) from exc
        found: Item = json.loads(answer["Body"].read())
        return found

    def object_versions(self) -> Iterator[tuple[str, str]]:
        """(key, version id) of every anchor object version of this tenant, delete
        markers left out, page by page (ListObjectVersions)."""
        params: dict[str, Any] = {
            "Bucket": bucket(),
            "Prefix": self.keys.anchor_objects,
            "MaxKeys": VERSIONS_PAGE,
        }
        while True:
            try:
                answer = client("s3").list_object_versions(**params)
            except ClientError as exc:
                raise _translated(exc) from exc
            for version in answer.get("Versions", []):
                yield str(version["Key"]), str(version["VersionId"])
            if not answer.get("IsTruncated"):
                return
            params["KeyMarker"] = answer["NextKeyMarker"]
            params["VersionIdMarker"] = answer["NextVersionIdMarker"]
