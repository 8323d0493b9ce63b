"""The AWS-call budget of each route, derived from its declaration (docs/architecture.md,
section 9).

- a GET answering one object: 1 GetItem;
- a GET answering a list page (its response model is a `ListPage`): 1 Query;
- a POST, PATCH or DELETE: 1 TransactWriteItems + at most 2 GetItem;
- a replayed Idempotency-Key: at most that (the budgets are silent; a replay reads the
  stored answer, so less, never more).

Budgets count the request path only: the API-key lookup and Secrets Manager reads are
counted apart and must be cached in a warm process. Routes the budgets do not cover get an
explicit budget in `EXPLICIT`, each with its reason; a route that is neither declared
nor given one there has no budget and is flagged until it gets one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.routes import UNDECLARED, label
from chalicelib.api.http import Operation
from chalicelib.domain.models import ListPage

Limits = dict[str, int]  # operation ("DynamoDB.GetItem") -> most calls allowed


@dataclass(frozen=True)
class Budget:
    """At most `limits(answer)` calls of each operation, and none of any other.

    `limits` sees the answer's JSON body, for the one budget that depends on the data
    (the audit chain's verification reads what was appended since its checkpoint).
    `limits` None: nothing says what this route may cost, so it is always flagged.
    """

    text: str
    why: str
    limits: Callable[[Any], Limits] | None

    def allowed(self, answer: Any) -> Limits | None:
        return None if self.limits is None else self.limits(answer)

    def excess(self, counts: Counter[str], answer: Any) -> dict[str, tuple[int, int]]:
        """Each operation made more often than allowed: (made, allowed)."""
        allowed = self.allowed(answer)
        if allowed is None:
            return {op: (n, 0) for op, n in counts.items()} or {"(no budget)": (0, 0)}
        return {op: (n, allowed.get(op, 0)) for op, n in counts.items() if n > allowed.get(op, 0)}


def _fixed(limits: Limits) -> Callable[[Any], Limits]:
    return lambda _answer: dict(limits)


READ = Budget(
    "1 GetItem",
    "budget: a read of one object is one GetItem",
    _fixed({"DynamoDB.GetItem": 1}),
)
LIST = Budget(
    "1 Query",
    "budget: a list page is one Query",
    _fixed({"DynamoDB.Query": 1}),
)
WRITE = Budget(
    "1 TransactWriteItems + <=2 GetItem",
    "budget: a write is one TransactWriteItems plus at most two GetItems",
    _fixed({"DynamoDB.TransactWriteItems": 1, "DynamoDB.GetItem": 2}),
)
REPLAY = Budget(
    "<=1 TransactWriteItems + <=2 GetItem",
    "a replay answers the stored first answer: at most what the write itself may cost",
    _fixed({"DynamoDB.TransactWriteItems": 1, "DynamoDB.GetItem": 2}),
)
NO_CALLS = Budget("no AWS call", "", _fixed({}))


def _verify_limits(answer: Any) -> Limits:
    from chalicelib.services.audit import VERIFY_PAGE

    checked = 0
    if isinstance(answer, dict) and {"verified_from", "verified_to"} <= answer.keys():
        checked = max(0, int(answer["verified_to"]) - int(answer["verified_from"]) + 1)
    return {
        "DynamoDB.GetItem": 2,
        "DynamoDB.Query": 1 + math.ceil(checked / VERIFY_PAGE),
        "DynamoDB.PutItem": 1 if checked else 0,
    }


ARTIFACTS = "/v1/models/{model_id}/versions/{number}/artifacts"
VERSION = "/v1/models/{model_id}/versions/{number}"
REQUEST = "/v1/approval-requests/{request_id}"


def _deploy_limits(answer: Any) -> Limits:
    """A deployment's calls; production also heads each approved artifact's object (the
    answer does not say how many: a version's artifacts are few, 20 is the bound here)."""
    production = isinstance(answer, dict) and answer.get("environment") == "production"
    return {
        "DynamoDB.BatchGetItem": 1,
        "DynamoDB.TransactWriteItems": 1,
        "DynamoDB.GetItem": 2,
        "S3.HeadObject": 20 if production else 0,
    }


DEPLOYMENT_BUDGETS = {
    f"POST {VERSION}/deployments": Budget(
        "1 BatchGetItem + 1 TransactWriteItems + <=2 GetItem (+ HeadObject per artifact, "
        "production)",
        "the model (its team, its counts) and the version in one BatchGetItem; the stored "
        "answer with an Idempotency-Key, the chain head when cold; production heads each "
        "approved artifact's object to check it is still the approved version",
        _deploy_limits,
    ),
    f"GET {VERSION}/deployments": Budget(
        "1 Query (+1 GetItem on an empty first page)",
        "a page of the version's deployments is one Query; an empty first page reads the "
        "version to tell 404 (not the tenant's) from none yet",
        _fixed({"DynamoDB.Query": 1, "DynamoDB.GetItem": 1}),
    ),
    f"DELETE {VERSION}/deployments/{{deployment_id}}": Budget(
        "1 BatchGetItem + 1 TransactWriteItems + <=1 GetItem",
        "the model (its team, its counts), the version and the deployment in one "
        "BatchGetItem; the chain head when cold",
        _fixed(
            {"DynamoDB.BatchGetItem": 1, "DynamoDB.TransactWriteItems": 1, "DynamoDB.GetItem": 1}
        ),
    ),
    f"POST {VERSION}/retire": Budget(
        "1 BatchGetItem + 1 Query + 1 TransactWriteItems + <=1 GetItem",
        "the model and the version in one BatchGetItem, then (consistent) the version's open "
        "production deployments, one Query a page of 100; the chain head when cold",
        _fixed(
            {
                "DynamoDB.BatchGetItem": 1,
                "DynamoDB.Query": 1,
                "DynamoDB.TransactWriteItems": 1,
                "DynamoDB.GetItem": 1,
            }
        ),
    ),
}


def _report_limits(answer: Any) -> Limits:
    """A metrics report's calls: its points go 25 a BatchWriteItem."""
    from chalicelib.store.dynamo import BATCH_WRITE

    stored = int(answer.get("stored", 0)) if isinstance(answer, dict) else 0
    return {
        "DynamoDB.BatchGetItem": 1,
        "DynamoDB.BatchWriteItem": max(1, math.ceil(stored / BATCH_WRITE)),
        "DynamoDB.PutItem": 1,
    }


METRIC_BUDGETS = {
    f"POST {VERSION}/metrics": Budget(
        "1 BatchGetItem + ceil(points/25) BatchWriteItem + <=1 PutItem",
        "an exception to 'one TransactWriteItems': data points are operational records, "
        "outside the audit chain (no transaction, no audit entry), and a batch of up to 500 "
        "would not fit in one transaction (100 items) anyway. The model (its team), the "
        "version (retired?), the policy (its retention) and the version's summary in one "
        "BatchGetItem; the points 25 a BatchWriteItem; the summary replaced with one "
        "conditional PutItem (none when nothing in the batch is newer, as on a retry; a "
        "lost race re-reads it and puts again)",
        _report_limits,
    ),
    f"GET {VERSION}/metrics": Budget(
        "1 Query (+1 GetItem on an empty first page)",
        "a page of the version's points is one Query (of one name and time range, a key "
        "range; a segment, or a time range across names, is a filter that may read up to "
        "five Query pages to fill the page); an empty first page reads the version to tell "
        "404 (not the tenant's) from none yet",
        _fixed({"DynamoDB.Query": 1, "DynamoDB.GetItem": 1}),
    ),
}


WEBHOOK = "/v1/webhooks/{webhook_id}"
WEBHOOK_BUDGETS = {
    "POST /v1/webhooks": Budget(
        "1 TransactWriteItems + <=2 GetItem + 1 KMS Encrypt",
        "the new signing secret is sealed with KMS before it is stored (only its "
        "ciphertext is); the URL's name is resolved for the SSRF check (DNS, not AWS); the "
        "stored answer with an Idempotency-Key, the chain head when cold",
        _fixed({"DynamoDB.TransactWriteItems": 1, "DynamoDB.GetItem": 2, "KMS.Encrypt": 1}),
    ),
    f"POST {WEBHOOK}/rotate-secret": Budget(
        "1 TransactWriteItems + <=2 GetItem + 1 KMS Encrypt",
        "the subscription, and the new secret sealed with KMS; the chain head when cold",
        _fixed({"DynamoDB.TransactWriteItems": 1, "DynamoDB.GetItem": 2, "KMS.Encrypt": 1}),
    ),
    f"GET {WEBHOOK}/deliveries": Budget(
        "1 GetItem + 1 Query",
        "the subscription (404 when it is not the tenant's, or deleted), then a page of its "
        "deliveries, newest first",
        _fixed({"DynamoDB.Query": 1, "DynamoDB.GetItem": 1}),
    ),
    f"POST {WEBHOOK}/deliveries/{{delivery_id}}/redeliver": Budget(
        "1 TransactWriteItems + <=3 GetItem",
        "the subscription (is it enabled?) and the delivery; the chain head when cold. The "
        "attempt is queued from the outbox, not here",
        _fixed({"DynamoDB.TransactWriteItems": 1, "DynamoDB.GetItem": 3}),
    ),
}


def _compliance_limits(answer: Any) -> Limits:
    """The summary pages through the tenant's models, then its findings, 1,000 a Query
    (fewer past 1 MB)."""
    from chalicelib.store.reports import COUNT_PAGE

    pages = 0
    for part in ("models", "findings"):
        counted = answer.get(part) if isinstance(answer, dict) else None
        total = int(counted.get("total", 0)) if isinstance(counted, dict) else 0
        pages += 1 + math.ceil(total / COUNT_PAGE)
    return {"DynamoDB.Query": pages}


def _inventory_limits(answer: Any) -> Limits:
    """A page of rows: its Query, the production history's (1,000 deployments a Query:
    the benchmark's worlds hold fewer), and a BatchGetItem per 100 keys of what the rows
    name: versions, approval requests, principals, the models' finding counts (and, as of
    a moment, the models)."""
    rows = answer.get("items", []) if isinstance(answer, dict) else []
    versions = sum(int(r.get("version_count") or 0) for r in rows)
    approved = sum(1 for r in rows if r.get("approved_version"))
    people = {p["id"] for r in rows for p in (r["owner"], *r["developers"], *r["validators"])}
    models = len(rows) if isinstance(answer, dict) and answer.get("as_of") else 0
    counted = (versions, approved, len(people), models, len(rows))  # rows: finding counts
    batches = sum(math.ceil(n / 100) for n in counted)
    return {"DynamoDB.Query": 2, "DynamoDB.BatchGetItem": batches}


REPORT_BUDGETS = {
    "GET /v1/reports/compliance": Budget(
        "2+ceil(models/1000)+ceil(findings/1000) Query",
        "exception to 'a list page is one Query': the summary is counted live, paging "
        "through the tenant's models, then its findings, with only the counted attributes "
        "projected, so its Queries grow with pages of models and findings (1,000 a Query, "
        "fewer where 1 MB comes first), not with models",
        _compliance_limits,
    ),
    "GET /v1/reports/inventory": Budget(
        "<=2 Query + a BatchGetItem per 100 versions, requests, principals, finding counts "
        "(models as_of)",
        "a page of models is one Query (as_of: the production history in force then, a "
        "Query per 1,000 deployments, and the page's models in BatchGetItems); the page's "
        "open production deployments one Query; then what the rows name in BatchGetItems "
        "of 100 keys: every version of its models (the current approved one), their "
        "approval requests (validators), the principals named, the models' finding counts. "
        "Never a request per model",
        _inventory_limits,
    ),
}

EXPORT_BUDGETS = {
    "POST /v1/exports": Budget(
        "1 TransactWriteItems + <=3 GetItem",
        "a write, and for the archives one read more: an audit range is checked against the "
        "chain's head, an evidence pack's version must be the tenant's (one GetItem); the "
        "stored answer with an Idempotency-Key, the chain head when cold",
        _fixed({"DynamoDB.TransactWriteItems": 1, "DynamoDB.GetItem": 3}),
    ),
    "GET /v1/exports/{export_id}": Budget(
        "1 GetItem (+1 TransactWriteItems +1 GetItem cold for an audit or evidence archive)",
        "exception to 'a read is one GetItem': handing out the download URL of an audit or "
        "evidence archive is itself audited, an audit.exported_read entry committed before "
        "the URL is answered (one TransactWriteItems, the chain head read once in a cold "
        "process); any other kind's read is the one GetItem",
        _fixed({"DynamoDB.GetItem": 2, "DynamoDB.TransactWriteItems": 1}),
    ),
}


def _parts_pages(answer: Any) -> int:
    """ListParts pages of a multipart upload (1,000 parts a page); 0 for a single upload."""
    from chalicelib.config import settings
    from chalicelib.domain.artifacts import part_size

    if not isinstance(answer, dict) or not answer.get("multipart"):
        return 0
    size = int(answer["size"])
    parts = -(-size // part_size(size, settings().artifact.part_bytes))
    return -(-parts // 1000)


def _complete_limits(answer: Any) -> Limits:
    pages = _parts_pages(answer)
    return {
        "DynamoDB.BatchGetItem": 1,
        "DynamoDB.GetItem": 1,
        "DynamoDB.TransactWriteItems": 1,
        "S3.HeadObject": 0 if pages else 1,
        "S3.GetObject": 1,
        "S3.ListParts": pages,
        "S3.CompleteMultipartUpload": 1 if pages else 0,
    }


EXPLICIT: dict[str, Budget] = {
    f"POST {ARTIFACTS}": Budget(
        "1 BatchGetItem + 1 TransactWriteItems + <=1 GetItem (+1 CreateMultipartUpload)",
        "the model (its team) and the artifact's record (a replacement's revision) in one "
        "BatchGetItem; the stored answer with an Idempotency-Key (or the chain head, cold); "
        "above the multipart threshold S3 starts the upload. Presigning makes no call",
        _fixed(
            {
                "DynamoDB.BatchGetItem": 1,
                "DynamoDB.GetItem": 2,
                "DynamoDB.TransactWriteItems": 1,
                "S3.CreateMultipartUpload": 1,
            }
        ),
    ),
    f"GET {ARTIFACTS}": Budget(
        "1 Query (+1 GetItem on an empty first page)",
        "a page of the version's artifacts is one Query; an empty first page reads the "
        "version to tell 404 (not the tenant's) from none yet",
        _fixed({"DynamoDB.Query": 1, "DynamoDB.GetItem": 1}),
    ),
    f"POST {ARTIFACTS}/{{name}}/complete": Budget(
        "1 BatchGetItem + 1 TransactWriteItems + S3: HeadObject (or ListParts pages + "
        "CompleteMultipartUpload) + GetObject up to the sync threshold",
        "Custos reads the bytes itself: the object's current version (a multipart upload is "
        "completed from its listed parts instead), then, up to the sync threshold, the object "
        "streamed; above it the verification leaves through the outbox (no S3 read here)",
        _complete_limits,
    ),
    f"POST {VERSION}/approval-requests": Budget(
        "1 BatchGetItem + 1 Query + 1 TransactWriteItems + <=2 GetItem",
        "the model (its team and tier), the version and the policy in force in one "
        "BatchGetItem; the version's artifacts (a Query page of 100) to check and freeze; "
        "the stored answer with an Idempotency-Key, the chain head when cold. The execution "
        "starts from the outbox, not here",
        _fixed(
            {
                "DynamoDB.BatchGetItem": 1,
                "DynamoDB.Query": 1,
                "DynamoDB.TransactWriteItems": 1,
                "DynamoDB.GetItem": 2,
            }
        ),
    ),
    "GET /v1/approval-requests": Budget(
        "1 Query (+1 BatchGetItem with actionable=true)",
        "a page of the tenant's requests is one Query (the inbox's, of gsi1's open stages); "
        "the inbox then reads the page's models in one BatchGetItem, to leave out requests "
        "whose model's team the caller has joined since submission",
        _fixed({"DynamoDB.Query": 1, "DynamoDB.BatchGetItem": 1}),
    ),
    f"POST {REQUEST}/decisions": Budget(
        "1 TransactWriteItems + <=5 GetItem (+ SendTaskSuccess + UpdateItem when it closes)",
        "the request, then its model (the team as it is now); a decision that closes the "
        "stage reads the stage's task token and answers it (DESIGN: the callback leaves on "
        "the request path, owed in the same transaction, so a lost one is the reconciler's), "
        "then marks it answered; the stored answer with an Idempotency-Key, the chain head "
        "when cold",
        _fixed(
            {
                "DynamoDB.TransactWriteItems": 1,
                "DynamoDB.GetItem": 5,
                "SFN.SendTaskSuccess": 1,
                "DynamoDB.UpdateItem": 1,
            }
        ),
    ),
    f"POST {REQUEST}/cancel": Budget(
        "1 TransactWriteItems + <=4 GetItem (+ SendTaskSuccess + UpdateItem with a stage open)",
        "the request and its version; with a stage open, its task token is answered 'cancel' "
        "so the execution ends now, and marked answered; the chain head when cold",
        _fixed(
            {
                "DynamoDB.TransactWriteItems": 1,
                "DynamoDB.GetItem": 4,
                "SFN.SendTaskSuccess": 1,
                "DynamoDB.UpdateItem": 1,
            }
        ),
    ),
    f"POST {VERSION}/reopen": Budget(
        "1 BatchGetItem + 1 TransactWriteItems + <=1 GetItem",
        "the model (its team) and the version in one BatchGetItem; the chain head when cold",
        _fixed(
            {"DynamoDB.BatchGetItem": 1, "DynamoDB.TransactWriteItems": 1, "DynamoDB.GetItem": 1}
        ),
    ),
    f"POST {REQUEST}/evidence": Budget(
        "1 TransactWriteItems + <=3 GetItem",
        "the request, then its model (the team as it is now); the chain head when cold. "
        "Presigning makes no call",
        _fixed({"DynamoDB.TransactWriteItems": 1, "DynamoDB.GetItem": 3}),
    ),
    f"POST {REQUEST}/evidence/{{name}}/complete": Budget(
        "1 TransactWriteItems + <=3 GetItem + S3: HeadObject + GetObject",
        "the request and its model; Custos reads the bytes itself: the object's current "
        "version, then the object streamed (evidence is verified in the call); the chain "
        "head when cold",
        _fixed(
            {
                "DynamoDB.TransactWriteItems": 1,
                "DynamoDB.GetItem": 3,
                "S3.HeadObject": 1,
                "S3.GetObject": 1,
            }
        ),
    ),
    f"POST {REQUEST}/comments": Budget(
        "1 TransactWriteItems + <=4 GetItem",
        "the request, then its model (the team as it is now); the stored answer with an "
        "Idempotency-Key, the chain head when cold",
        _fixed({"DynamoDB.TransactWriteItems": 1, "DynamoDB.GetItem": 4}),
    ),
    **DEPLOYMENT_BUDGETS,
    **METRIC_BUDGETS,
    **WEBHOOK_BUDGETS,
    **REPORT_BUDGETS,
    **EXPORT_BUDGETS,
    "GET /v1/health": Budget(
        NO_CALLS.text,
        "a liveness probe answers from the process alone; it must not fail with DynamoDB",
        NO_CALLS.limits,
    ),
    "GET /v1/openapi.json": Budget(
        NO_CALLS.text,
        "the document is generated from the route declarations, in process",
        NO_CALLS.limits,
    ),
    "GET /v1/audit/verify": Budget(
        "2 GetItem + <=1+ceil(n/500) Query + PutItem if n>0",
        "verifying the chain must read it: the head and the checkpoint (2 GetItem), the "
        "checkpoint's own event, then the n events appended since, in Query pages of 500 "
        "(VERIFY_PAGE); moving the checkpoint forward is one conditional PutItem, only "
        "when there was something new to check",
        _verify_limits,
    ),
    "GET /v1/audit-events": Budget(
        "1 Query + 1 TransactWriteItems (+1 GetItem when cold)",
        "reading the audit trail is itself audited: the page is one Query, and the "
        "audit.read entry naming what was read is one TransactWriteItems more (the chain "
        "head read once in a cold process), committed before the page is answered",
        _fixed({"DynamoDB.Query": 1, "DynamoDB.TransactWriteItems": 1, "DynamoDB.GetItem": 1}),
    ),
    "GET /v1/models/{model_id}/versions": Budget(
        "1 Query (+1 GetItem on an empty first page)",
        "a page of the model's versions is one Query; an empty first page reads the model to "
        "tell 404 (not the tenant's) from no versions yet",
        _fixed({"DynamoDB.Query": 1, "DynamoDB.GetItem": 1}),
    ),
    "DELETE /v1/api-keys/{key_id}": Budget(
        "1 TransactWriteItems + <=3 GetItem (+ key pages when the acting key cannot stay)",
        "the key, its holder (is it an active admin? the tenant must keep a usable admin "
        "key) and, cold, the chain head; the acting admin's own key is the one kept when "
        "it can be, else the tenant's keys are paged (a Query and a BatchGetItem each) to "
        "find another",
        _fixed(
            {
                "DynamoDB.TransactWriteItems": 1,
                "DynamoDB.GetItem": 3,
                "DynamoDB.Query": 10,
                "DynamoDB.BatchGetItem": 10,
            }
        ),
    ),
    "POST /v1/tenants/{tenant_id}/admin-keys": Budget(
        "1 TransactWriteItems + <=3 GetItem + <=1 Query",
        "break-glass, rare: the tenant (it must exist), the stored answer with an "
        "Idempotency-Key, the chain head when cold; without a principal_id one Query of the "
        "tenant's principals finds its earliest admin",
        _fixed({"DynamoDB.TransactWriteItems": 1, "DynamoDB.GetItem": 3, "DynamoDB.Query": 1}),
    ),
}

UNBUDGETED = Budget(
    "none (not declared)",
    "registered on Chalice without a declaration; give it a budget in bench/budgets.py",
    None,
)


def budget_for(op: Operation) -> Budget:
    """The route's budget: explicit if the budgets are silent on it, else from its declaration."""
    if label(op) in EXPLICIT:
        return EXPLICIT[label(op)]
    if op.tag == UNDECLARED:
        return UNBUDGETED
    if op.method == "GET":
        is_page = op.response is not None and issubclass(op.response, ListPage)
        return LIST if is_page else READ
    return WRITE


def stale_explicit(ops: list[Operation]) -> list[str]:
    """Explicit budgets naming a route the app no longer has."""
    present = {label(op) for op in ops}
    return sorted(set(EXPLICIT) - present)
