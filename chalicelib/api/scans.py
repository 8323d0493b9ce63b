"""Compliance scans on demand, and following them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.api.http import CURSOR, LIMIT, ApiRequest, Reply, endpoint
from chalicelib.domain.roles import Role

if TYPE_CHECKING:
    from chalicelib.domain.findings import ScanStarted

bp = Blueprint(__name__)
TAG = "Compliance scans"
SCANS = "/v1/compliance-scans"
SHAPES = "chalicelib.domain.findings:"


def _queued(started: ScanStarted) -> Reply:
    return Reply(started, 202, {"Location": started.link})


@endpoint(
    bp,
    "POST",
    SCANS,
    summary="Scan the tenant now (validators, admins); follow it at the answer's link",
    tag=TAG,
    roles={Role.VALIDATOR, Role.ADMIN},
    response=SHAPES + "ScanStarted",
    status=202,
    idempotent=True,
)
def request_scan(req: ApiRequest) -> Reply:
    from chalicelib.services import compliance

    claim = req.claim_for(_queued)
    return _queued(compliance.request_scan(req.actor, claim))


@endpoint(
    bp,
    "GET",
    SCANS,
    summary="The tenant's compliance scans, newest first",
    tag=TAG,
    response=SHAPES + "ComplianceScanList",
    query=(LIMIT, CURSOR),
)
def list_scans(req: ApiRequest) -> Reply:
    from chalicelib.domain.findings import ComplianceScanList
    from chalicelib.services import compliance

    items, next_cursor = compliance.list_scans(req.actor, req.limit, req.cursor)
    return Reply(ComplianceScanList(items=items, next_cursor=next_cursor))


@endpoint(
    bp,
    "GET",
    SCANS + "/{scan_id}",
    summary="A compliance scan: its status, the rule group it is at, and its counts",
    tag=TAG,
    response=SHAPES + "ComplianceScan",
)
def get_scan(req: ApiRequest, scan_id: str) -> Reply:
    from chalicelib.services import compliance

    return Reply(compliance.get_scan(req.actor, scan_id))
