"""An anchor of the audit chain: the chain head (sequence number, hash, the time of its
event) written to S3 under Object Lock, where the table's writers cannot rewrite it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from chalicelib.domain.models import ListPage, Outbound, WholeNumber

# Retention of anchor objects, from the tenant's policy (`audit_anchor_retention_days`).
DEFAULT_RETENTION_DAYS = 2557  # seven years (SR 11-7 practice, SOX record keeping)
MIN_RETENTION_DAYS = 183  # the EU AI Act keeps logs for at least six months (art. 19, 26)
MAX_RETENTION_DAYS = 3653  # ten years, leap days included
ANCHOR_FORMAT = "custos-audit-anchor/1"
AnchorRetentionDays = Annotated[
    int, Field(ge=MIN_RETENTION_DAYS, le=MAX_RETENTION_DAYS), WholeNumber
]


def anchor_retention() -> Any:
    """The policy's `audit_anchor_retention_days` field: its default and description."""
    return Field(
        default=DEFAULT_RETENTION_DAYS,
        description="Days each anchor of the audit chain stays locked in S3 (compliance"
        " mode): at least 183 (the EU AI Act's six months), at most 3653; 2557 (seven"
        " years) by default",
    )


EXAMPLE: dict[str, Any] = {
    "seq": 42,
    "hash": "9f2c1d0e8b7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c",
    "chain_time": "2026-12-01T09:00:00.000Z",
    "anchored_at": "2026-12-01T10:00:00.125Z",
    "retain_until": "2033-12-01T10:00:00.125Z",
    "bucket": "custos-anchors",
    "key": "tenants/ten_01JDQ4W9V3N8Y6Z5X2K7M1P0RS/audit/anchors/000000000042.json",
    "version_id": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
}


class AuditAnchor(Outbound):
    """One anchored chain head, and where its locked object is."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    seq: int = Field(description="The sequence number of the chain head anchored")
    hash: str = Field(description="Its hash: the chain up to `seq` must hash to it")
    chain_time: datetime = Field(description="The time of the audit event at `seq`")
    anchored_at: datetime
    retain_until: datetime = Field(
        description="Object Lock (compliance mode) keeps the object version until then"
    )
    bucket: str
    key: str = Field(description="The S3 key of the anchor object")
    version_id: str = Field(description="The S3 object version written")


class AuditAnchorList(ListPage):
    items: list[AuditAnchor]
