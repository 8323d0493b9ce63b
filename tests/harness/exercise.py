"""A request every declared operation accepts, built from the declarations alone.

Benchmarks, fault injection and load all need to call every route the app has,
including routes added after they were written. Nothing here lists routes: the
operations come from `chalicelib.api.http.REGISTRY`, and for each one

- the caller is the first role (in `ROLE_PREFERENCE`) the operation admits;
- each `{param}` of the path is a fresh object made by the creating POST of the
  collection the parameter sits in (`{model_id}` in `/v1/models/{model_id}` comes from
  `POST /v1/models`), taking its id from the matching field of the answer; a collection
  whose members are created under another object (`/v1/approval-requests/{request_id}`,
  made by `POST /v1/models/{model_id}/versions/{number}/approval-requests`) takes the POST
  whose path ends in the collection's name, its own parameters made the same way;
- an object the system moves on by itself once created (an approval request, whose
  workflow opens its first stage, or applies a reject) is awaited by `settle` before it is
  used: by default it reads the object until it has moved on (a live stack runs the
  workflow); in process, where moto does not execute state machines, a fake of the
  workflow plays its part (`tests.harness.fake_workflow`);
- an operation that needs its objects in a state of their own (reopening takes a rejected
  version) gets them there first (`PRECONDITIONS`), and one whose caller depends on their
  state (a decision: the open stage's role) calls as that role (`CALLERS`);
- the body is the request model's first OpenAPI example, with every id in it
  (`prn_…`) replaced by a fresh object of that kind, made the same way, and every time of
  a measurement (`observed_at`) a minute ago (`recent`);
- a `{param}` under `/v1/me/` names one of the caller's own objects: it is made by the
  creating POST of the tenant-wide collection (`{key_id}` of `/v1/me/api-keys/{key_id}/…`
  by `POST /v1/api-keys`), for the caller's principal;
- validators and approvers call with keys of their own, since only such keys may judge
  risk: the tenant's key when it is one already, else a second key the admin issues and
  they rotate (once per exerciser), so the tenant's keys stay valid;
- `If-Match` is the ETag a reader of the same path sees just before (of the object, for an
  action on it: `POST /v1/models/{model_id}/classification` reads `GET /v1/models/{model_id}`);
- when the creating POST's answer holds an `upload` (presigned URLs for an object's bytes),
  the request model's `example_content` (the bytes its example describes) is uploaded
  through it, so an operation on the object finds its bytes where it looks for them.

An operation this cannot satisfy (no example, no creator for a parameter) raises
`UnsupportedOperation` naming what to declare, so a new route fails loudly.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from chalicelib.api.http import REGISTRY, Operation
from chalicelib.api.openapi import id_pointer
from chalicelib.domain.ids import PREFIXES
from tests.harness.clients import Answer, ApiClient
from tests.harness.world import Tenant

ROLE_PREFERENCE = ("developer", "admin", "auditor", "validator", "approver", "monitor")
JUDGE_ROLES = ("validator", "approver")  # they call with keys of their own
OWN = "/v1/me/"  # paths under it name the caller's own objects
PLATFORM, ANONYMOUS = "platform", "anonymous"
_ID = re.compile(r"^(?P<prefix>[a-z]{3})_[0-9A-HJKMNP-TV-Z]{26}$")
_KIND_OF_PREFIX = {prefix: kind for kind, prefix in PREFIXES.items()}


class UnsupportedOperation(Exception):
    """The declarations do not say how to make a request this operation accepts."""


class ExerciseFailed(Exception):
    """A request the harness built was not answered with the operation's success status."""


@dataclass(frozen=True)
class Prepared:
    """One concrete request for `op`, ready to send."""

    op: Operation
    role: str
    path: str
    key: str | None
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)  # the path parameters' values

    @property
    def label(self) -> str:
        return f"{self.op.method} {self.op.path}"


def operations() -> list[Operation]:
    """Every operation the app declares, in declaration order."""
    import app  # noqa: F401  (registers every blueprint's routes)

    return list(REGISTRY)


def role_for(op: Operation) -> str:
    """The role that calls `op`: the platform, nobody, or the first tenant role admitted."""
    if op.auth == "none":
        return ANONYMOUS
    if op.auth == "platform":
        return PLATFORM
    allowed = {str(role) for role in op.roles} if op.roles else set(ROLE_PREFERENCE)
    return next(role for role in ROLE_PREFERENCE if role in allowed)


# Objects no POST of their collection creates, and the operation that makes them (a
# webhook delivery: a test event, fanned out; `settle` waits for it).
MADE_BY = {
    "delivery_id": ("POST", "/v1/webhooks/{webhook_id}/test"),
    "scan_id": ("POST", "/v1/compliance-scans"),
    # Requesting an export answers 202 (its file comes later), not 201.
    "export_id": ("POST", "/v1/exports"),
}
# Example bodies the harness changes: a webhook receiver on this machine's discard port
# (loopback receivers are allowed under make run and in the tests), so nothing is sent
# anywhere else, and every attempt fails at once.
LOCAL_RECEIVER = "http://127.0.0.1:9/custos-exercise"
EXAMPLE_OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/webhooks"): {"url": LOCAL_RECEIVER},
}
# Fields holding when something was measured (a metric point's `observed_at`) must be
# recent, within the retention and not ahead: `recent` sets them to a minute ago, since an
# example's fixed time falls out of the retention one day.
OBSERVED_FIELDS = ("observed_at",)
# Fields holding when something lapses (a risk acceptance's `expires_at`) must be ahead, and
# not too far: `recent` sets them to a month ahead.
AHEAD_FIELDS = ("expires_at",)
VERSION_PATH = "/v1/models/{model_id}/versions/{number}"


def recent(value: Any) -> Any:
    """`value` with every field of OBSERVED_FIELDS, at any depth, a minute ago, and every
    field of AHEAD_FIELDS a month ahead."""
    if isinstance(value, dict):
        now = datetime.now(UTC)
        times = dict.fromkeys(OBSERVED_FIELDS, (now - timedelta(minutes=1)).isoformat())
        times |= dict.fromkeys(AHEAD_FIELDS, (now + timedelta(days=30)).isoformat())
        return {
            k: times[k] if k in times and isinstance(v, str) else recent(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [recent(v) for v in value]
    return value


def creator_of(path: str, param: str) -> tuple[Operation, str]:
    """The POST that creates what `{param}` names in `path`, and the JSON pointer of its id
    in that POST's answer. The caller's own collections (`/v1/me/api-keys`) are made by
    the tenant-wide one's POST (`/v1/api-keys`)."""
    if param in MADE_BY:
        made = _operation(*MADE_BY[param])
        where = id_pointer(made.response, param) if made.response else None
        if where is None:
            raise UnsupportedOperation(f"{made.path} answers no {param}")
        return made, where
    marker = "{" + param + "}"
    collection = path[: path.index(marker)].rstrip("/")
    if collection.startswith(OWN):
        collection = "/v1/" + collection.removeprefix(OWN)
    posts = [op for op in operations() if op.method == "POST" and op.status == 201]
    post = next((op for op in posts if op.path == collection), None)
    if post is None:  # created under another object: the POST ending in the collection
        name = "/" + collection.rsplit("/", 1)[-1]
        post = next((op for op in posts if op.path.endswith(name)), None)
    where = id_pointer(post.response, param) if post and post.response else None
    if post is None or where is None:
        raise UnsupportedOperation(f"no POST {collection} answers the {marker} of {path}")
    return post, where


def example_of(op: Operation) -> dict[str, Any]:
    """The first OpenAPI example of the operation's request model."""
    assert op.request is not None
    examples = op.request.model_json_schema().get("examples")
    if not isinstance(examples, list) or not examples or not isinstance(examples[0], dict):
        raise UnsupportedOperation(
            f"{op.request.__name__} declares no example (json_schema_extra examples)"
        )
    return dict(recent({**examples[0], **EXAMPLE_OVERRIDES.get((op.method, op.path), {})}))


def pointer(document: Any, path: str) -> Any:
    for part in path.strip("/").split("/"):
        document = document[part]
    return document


Settle = Callable[["Exerciser", Operation, Answer], None]


def rejected_stage(request: dict[str, Any]) -> bool:
    """Whether an approval request (as answered) has a stage a reject closed."""
    return any(stage.get("outcome") == "reject" for stage in request.get("stages", []))


def wait_for_workflow(ex: Exerciser, post: Operation, answer: Answer, seconds: float = 30) -> None:
    """An approval request moves on by itself: a new one is usable once its workflow has
    opened its first stage, a rejected one once the workflow applied the reject. Read it
    (bounded) until then."""
    # By name: the benchmark measures fresh copies of the app, each with its own classes.
    if post.response is not None and post.response.__name__ == "WebhookTestQueued":
        _wait_for_delivery(ex, answer, seconds)
        return
    if post.response is None or post.response.__name__ != "ApprovalRequest":
        return
    if answer.status >= 300:
        return
    if answer.json.get("status") == "pending":
        awaited = {"in_review"}
    elif rejected_stage(answer.json):
        awaited = {"rejected"}
    else:
        return
    location = f"/v1/approval-requests/{answer.json['id']}"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        read = ex.api.get(location, ex.key("auditor"))
        if read.status == 200 and read.json["status"] in awaited:
            return
        time.sleep(0.1)
    raise ExerciseFailed(f"{location} did not move on in {seconds} s: is the workflow running?")


def _wait_for_delivery(ex: Exerciser, answer: Answer, seconds: float) -> None:
    """A webhook test event's delivery exists once the fan-out has made it."""
    if answer.status != 202:
        return
    # The list, not the delivery: it answers 200 while the fan-out has not run yet.
    deliveries = f"/v1/webhooks/{answer.json['webhook_id']}/deliveries"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        listed = ex.api.get(deliveries, ex.key("admin"))
        if listed.status == 200 and any(
            d["id"] == answer.json["delivery_id"] for d in listed.json["items"]
        ):
            return
        time.sleep(0.1)
    raise ExerciseFailed(f"{answer.json['link']} not made in {seconds} s: is the fan-out running?")


def _rejected(ex: Exerciser, values: dict[str, str]) -> None:
    """Reopening takes a rejected version: submit it, and reject its first stage."""
    version = f"/v1/models/{values['model_id']}/versions/{values['number']}"
    submit = _operation("POST", "/v1/models/{model_id}/versions/{number}/approval-requests")
    decide = _operation("POST", "/v1/approval-requests/{request_id}/decisions")
    submitted = ex.api.post(f"{version}/approval-requests", ex.key("developer"), {})
    if submitted.status != 201:
        raise ExerciseFailed(f"submitting {version}: {submitted.status} {submitted.json}")
    ex.settle(ex, submit, submitted)
    role = submitted.json["stages"][0]["role"]
    rejected = ex.api.post(
        f"/v1/approval-requests/{submitted.json['id']}/decisions",
        ex.key(role),
        {"outcome": "reject", "comment": "rejected by the harness"},
    )
    if rejected.status != 201:
        raise ExerciseFailed(f"rejecting {version}: {rejected.status} {rejected.json}")
    ex.settle(ex, decide, rejected)


def _operation(method: str, path: str) -> Operation:
    return next(op for op in operations() if (op.method, op.path) == (method, path))


# Operations that take their objects in a state a fresh one is not in, and how to get
# them there (after the path's objects are made).
PRECONDITIONS: dict[tuple[str, str], Callable[[Exerciser, dict[str, str]], None]] = {
    ("POST", "/v1/models/{model_id}/versions/{number}/reopen"): _rejected,
}


def _open_stage_decider(ex: Exerciser, values: dict[str, str], role: str) -> str:
    """A decision is the open stage's role's to make: which role decides first is the
    tenant's policy (a policy whose first stage is the approvers' is as valid as one
    whose first is the validators')."""
    location = f"/v1/approval-requests/{values['request_id']}"
    request = ex.api.get(location, ex.key("auditor"))
    if request.status != 200:
        raise ExerciseFailed(f"reading {location}: {request.status} {request.json}")
    stages = [stage for stage in request.json["stages"] if stage.get("status") == "open"]
    return str(stages[0]["role"]) if stages else role


# Operations whose caller depends on the state of the objects made for them (after they
# are made): the role to call as, given the one the route admits first.
CALLERS: dict[tuple[str, str], Callable[[Exerciser, dict[str, str], str], str]] = {
    ("POST", "/v1/approval-requests/{request_id}/decisions"): _open_stage_decider,
}


class Exerciser:
    """Builds and sends accepted requests for every operation, within one tenant."""

    def __init__(
        self,
        api: ApiClient,
        tenant: Tenant,
        platform_key: str,
        settle: Settle = wait_for_workflow,
    ) -> None:
        self.api = api
        self.tenant = tenant
        self.platform_key = platform_key
        self.settle = settle
        self._own: dict[str, str] = {}  # role -> a key its principal rotated itself
        self._principals: dict[str, str] = {}  # role -> principal id

    def key(self, role: str) -> str | None:
        if role == ANONYMOUS:
            return None
        if role == PLATFORM:
            return self.platform_key
        if role in JUDGE_ROLES:
            return self.own_key(role)
        return self.tenant.keys[role]

    def _is_own(self, key: str) -> bool:
        me = self.api.get("/v1/me", key)
        if me.status != 200:
            raise ExerciseFailed(f"GET /v1/me: {me.status} {me.json}")
        return bool(me.json.get("own_key"))

    def principal_of(self, role: str) -> str:
        """The principal id of `role`'s key (from the tenant, or asked of GET /v1/me)."""
        if role not in self._principals:
            known = self.tenant.ids.get(role)
            if known is None:
                me = self.api.get("/v1/me", self.tenant.keys[role])
                if me.status != 200:
                    raise ExerciseFailed(f"GET /v1/me as {role}: {me.status} {me.json}")
                known = str(me.json["principal_id"])
            self._principals[role] = known
        return self._principals[role]

    def own_key(self, role: str) -> str:
        """A key of `role`'s principal that it rotated itself: the tenant's own key when it
        is one already (`own_keys`, or seeded so), else a second key the admin issues,
        rotated once, so the tenant's keys (which others may hold) stay valid."""
        if role not in self._own:
            from tests.harness.world import rotate

            if role in self.tenant.issued_keys or self._is_own(self.tenant.keys[role]):
                self._own[role] = self.tenant.keys[role]
                return self._own[role]
            issued = self.api.post(
                "/v1/api-keys",
                self.tenant.keys["admin"],
                {"principal_id": self.principal_of(role), "name": f"exerciser {role}"},
            )
            if issued.status != 201:
                raise ExerciseFailed(f"issuing a key for {role}: {issued.status} {issued.json}")
            self._own[role] = rotate(self.api, issued.json["secret"])
        return self._own[role]

    def prepare(self, op: Operation, *, idempotency_key: str | None = None) -> Prepared:
        """A request `op` accepts, on objects made for it now (setup calls happen here)."""
        role = role_for(op)
        values: dict[str, str] = {}
        for param in op.path_params:
            values[param] = self.make(op.path, param, values, caller=role)
        precondition = PRECONDITIONS.get((op.method, op.path))
        if precondition is not None:
            precondition(self, values)
        caller = CALLERS.get((op.method, op.path))
        if caller is not None:
            role = caller(self, values, role)
        path = re.sub(r"{(\w+)}", lambda m: values[m.group(1)], op.path)
        body = self.fill_ids(example_of(op)) if op.request is not None else None
        headers: dict[str, str] = {}
        if op.if_match:
            headers["If-Match"] = self.current_etag(op.path, path)
        if idempotency_key is not None and op.idempotent:
            headers["Idempotency-Key"] = idempotency_key
        return Prepared(op, role, path, self.key(role), body, headers, values)

    def send(self, prepared: Prepared) -> Answer:
        return self.api.call(
            prepared.op.method, prepared.path, prepared.key, prepared.body, prepared.headers
        )

    def run(self, op: Operation) -> Answer:
        """Prepare and send; raises ExerciseFailed unless answered with `op.status`."""
        prepared = self.prepare(op)
        answer = self.send(prepared)
        if answer.status != op.status:
            raise ExerciseFailed(f"{prepared.label}: {answer.status} {answer.json}")
        return answer

    def make(self, path: str, param: str, known: dict[str, str], caller: str | None = None) -> str:
        """A fresh object for `{param}` of `path` (parents taken from `known`); its id.
        Under `/v1/me/` it is made for `caller`'s principal."""
        post, where = creator_of(path, param)
        values: dict[str, str] = {}
        for parent in post.path_params:  # the creator's parents: the path's, or made anew
            values[parent] = (
                known[parent] if parent in known else self.make(post.path, parent, values)
            )
        example = example_of(post) if post.request is not None else {}
        own = path.startswith(OWN) and caller is not None and "principal_id" in example
        if own:
            example.pop("principal_id")  # the caller's, not a fresh principal
        body = self.fill_ids(example)
        if own and caller is not None:
            body["principal_id"] = self.principal_of(caller)
        answer = self.api.call(
            "POST",
            re.sub(r"{(\w+)}", lambda m: values[m.group(1)], post.path),
            self.key(role_for(post)),
            body if post.request is not None else None,
        )
        if answer.status != post.status:
            raise ExerciseFailed(f"making {{{param}}} by POST {post.path}: {answer.json}")
        upload = answer.json.get("upload") if isinstance(answer.json, dict) else None
        if upload:
            self.upload(post, upload)
        self.settle(self, post, answer)
        return str(pointer(answer.json, where))

    def upload(self, post: Operation, upload: dict[str, Any]) -> None:
        """Send the example's bytes through a presigned upload, as a client would."""
        content = getattr(post.request, "example_content", None)
        if not isinstance(content, bytes) or not upload.get("url"):
            raise UnsupportedOperation(
                f"POST {post.path} answers an upload: give {post.request} an example_content "
                "that fits one PUT"
            )
        # requests, not the API client: the URL is S3's (in-process moto serves it too).
        sent = requests.put(upload["url"], data=content, headers=upload["headers"], timeout=30)
        if not sent.ok:
            raise ExerciseFailed(f"uploading for POST {post.path}: {sent.status_code} {sent.text}")

    def current_etag(self, template: str, path: str) -> str:
        """The ETag a reader of `path` sees; for an action on an object (a POST to
        `…/{model_id}/classification`), the object's own (`…/{model_id}`)."""
        reader = next(
            (op for op in operations() if op.method == "GET" and op.path == template), None
        )
        parent, _, last = template.rpartition("/")
        if reader is None and parent.endswith("}") and "{" not in last:
            return self.current_etag(parent, path.rpartition("/")[0])
        if reader is None:
            raise UnsupportedOperation(f"no GET {template} to read the ETag from")
        answer = self.api.get(path, self.key(role_for(reader)))
        if "etag" not in answer.headers:
            raise ExerciseFailed(f"GET {path} answered {answer.status} without an ETag")
        return answer.headers["etag"]

    def fill_ids(self, value: Any) -> Any:
        """`value` with every id in it (`prn_…`) replaced by a fresh object of that kind."""
        if isinstance(value, dict):
            filled = {k: self.fill_ids(v) for k, v in value.items()}
            model_id, number = filled.get("model_id"), filled.get("version_number")
            fresh = isinstance(model_id, str) and model_id != value.get("model_id")
            if fresh and isinstance(number, int) and not isinstance(number, bool):
                # a version of the fresh model (a finding on version 1 of it, say)
                made = self.make(VERSION_PATH, "number", {"model_id": str(model_id)})
                filled["version_number"] = int(made)
            return filled
        if isinstance(value, list):
            return [self.fill_ids(v) for v in value]
        if isinstance(value, str) and (match := _ID.match(value)):
            kind = _KIND_OF_PREFIX[match.group("prefix")]
            return self._fresh_of_kind(kind)
        return value

    def _fresh_of_kind(self, kind: str) -> str:
        param = f"{kind}_id"
        path = next((op.path for op in operations() if "{" + param + "}" in op.path), None)
        if path is None:
            raise UnsupportedOperation(f"no route has a {{{param}}} to make a {kind} by")
        return self.make(path, param, {})


def fresh_idempotency_key() -> str:
    return f"harness-{uuid.uuid4()}"
