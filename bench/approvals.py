"""What an approval costs and how long its outcome takes, on `make run`'s stack.

1. **Last decision to approved**: on the stack `make run` serves (an embedded moto server
   really executing the state machine, the local dispatcher driving the queues), 50
   requests are submitted and their stage opened; then, one request at a time, the last
   quorum decision is posted and the version polled (every 20 ms) until it shows
   `approved`. The time counts the decision's own answer, the workflow's next state, its
   message through the WorkflowMessages queue and the consumer that applies it; p50 and
   p95 over the 50 are printed. The dispatcher's poll interval is part of it, as the
   queue's event source mapping's would be on AWS.
2. **State transitions per request, by tier**: one request of each default tier is
   approved through every stage; its execution's history is read from the moto server and
   its entered states counted (Step Functions Standard bills each state transition:
   $0.025 per 1,000 in us-east-1, the README's cost section). A rejected tier-1 request
   and an expired one are counted too.

AWS calls per submission and per decision are in the route benchmark (bench/aws_calls.py,
the rows of their routes). `python -m bench.approvals` prints this part alone;
`python -m bench` runs every part.
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.report import Report
from bench.seed import PLATFORM_KEY
from tests.harness.clients import Answer, HttpApi
from tests.harness.stack import LocalStack, moto_client, start

REQUESTS = 50
POLL_SECONDS = 0.02
WAIT_SECONDS = 120
PRICE_PER_TRANSITION = 0.025 / 1000  # USD, Standard workflows, us-east-1
# The model-card fields the default policy requires of every tier.
CARD = {"intended_use": "Benchmark scoring", "metrics": "AUC 0.80"}


def _ok(answer: Answer, status: int = 201) -> Any:
    if answer.status != status:
        raise RuntimeError(f"expected {status}, got {answer.status}: {answer.json}")
    return answer.json


def _until(found: Callable[[], Any], what: str, seconds: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"{what}: not reached within {seconds} s")


class Bench:
    """The stack's demo tenant, with deciders of its own made through the API."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.api = HttpApi(stack.base_url, timeout=60)
        self.admin = stack.key("admin")
        self.developer = stack.key("developer")
        self.validators = [self.person("Bench Validator", "validator")]
        self.approvers = [self.person(f"Bench Approver {n}", "approver") for n in (1, 2)]
        self.classifier = self.person("Bench Classifier", "validator")

    def person(self, name: str, role: str) -> str:
        """A new principal with `role` and a key it rotated itself (its own, so it may
        decide and classify)."""
        body = {"name": name, "email": f"{name.lower().replace(' ', '.')}@bench.example"}
        principal = _ok(self.api.post("/v1/principals", self.admin, {**body, "roles": [role]}))
        issued = {"principal_id": principal["id"], "name": f"{name} key"}
        key = _ok(self.api.post("/v1/api-keys", self.admin, issued))
        rotated = self.api.post(f"/v1/me/api-keys/{key['id']}/rotate", key["secret"])
        return str(_ok(rotated)["secret"])

    def model(self, tier: int) -> str:
        """A model of `tier`, confirmed by a validator outside its team, with a version 1
        whose model card is complete."""
        body = {"name": f"Bench tier {tier}", "purpose": "benchmark", "risk_tier": tier}
        model = _ok(self.api.post("/v1/models", self.developer, body))
        path = f"/v1/models/{model['id']}"
        etag = self.api.get(path, self.developer).headers["etag"]
        classified = self.api.call(
            "POST",
            f"{path}/classification",
            self.classifier,
            {"risk_tier": tier, "regulatory_scope": model.get("regulatory_scope", [])},
            headers={"If-Match": etag},
        )
        _ok(classified, 200)
        _ok(self.api.post(f"{path}/versions", self.developer, {"model_card": CARD}))
        return str(model["id"])

    def submit(self, model_id: str) -> dict[str, Any]:
        path = f"/v1/models/{model_id}/versions/1/approval-requests"
        return dict(_ok(self.api.post(path, self.developer, {"kind": "approval"})))

    def request(self, request_id: str) -> dict[str, Any]:
        return dict(_ok(self.api.get(f"/v1/approval-requests/{request_id}", self.admin), 200))

    def open_stage(self, request_id: str, index: int) -> dict[str, Any]:
        def opened() -> dict[str, Any] | None:
            found = self.request(request_id)
            return found if found["stages"][index]["status"] == "open" else None

        return dict(_until(opened, f"stage {index} of {request_id} open"))

    def decide(self, request_id: str, key: str, outcome: str = "approve") -> None:
        body: dict[str, Any] = {"outcome": outcome}
        if outcome == "reject":
            body["comment"] = "rejected by the benchmark"
        _ok(self.api.post(f"/v1/approval-requests/{request_id}/decisions", key, body))

    def deciders(self, stage: dict[str, Any]) -> list[str]:
        keys = self.validators if stage["role"] == "validator" else self.approvers
        return keys[: int(stage["quorum"])]

    def version_status(self, model_id: str) -> str:
        return str(
            _ok(self.api.get(f"/v1/models/{model_id}/versions/1", self.developer), 200)["status"]
        )

    def until_status(self, model_id: str, status: str) -> None:
        """Poll version 1 of `model_id` until it shows `status`."""

        def reached() -> bool:
            return self.version_status(model_id) == status

        _until(reached, f"{model_id} {status}")

    def through(self, request: dict[str, Any], outcome: str = "approve") -> None:
        """Decide every stage of `request` (the first with `outcome`), as its deciders."""
        for stage in request["stages"]:
            opened = self.open_stage(request["id"], stage["index"])
            for key in self.deciders(opened["stages"][stage["index"]]):
                self.decide(request["id"], key, outcome)
                if outcome == "reject":
                    return


def decision_to_approved(bench: Bench, count: int = REQUESTS) -> dict[str, Any]:
    """Seconds from posting the last quorum decision to the version showing approved."""
    submitted = []
    for _ in range(count):
        model_id = bench.model(3)
        submitted.append((model_id, bench.submit(model_id)))
    seconds = []
    for model_id, request in submitted:
        bench.open_stage(request["id"], 0)
        started = time.perf_counter()
        bench.decide(request["id"], bench.approvers[0])
        bench.until_status(model_id, "approved")
        seconds.append(time.perf_counter() - started)
    ordered = sorted(seconds)
    return {
        "requests": count,
        "p50_s": round(statistics.median(ordered), 3),
        "p95_s": round(ordered[max(0, round(0.95 * count) - 1)], 3),
        "max_s": round(ordered[-1], 3),
    }


def _transitions(stack: LocalStack, request_id: str) -> dict[str, int]:
    """The execution's entered states and its history's length (every event)."""
    sfn = moto_client(stack, "stepfunctions")
    machine = next(
        m["stateMachineArn"]
        for m in sfn.list_state_machines()["stateMachines"]
        if "pproval" in m["name"]
    )
    arn = machine.replace(":stateMachine:", ":execution:") + f":{request_id}"
    _until(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", "execution")
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    entered = sum(1 for e in events if str(e["type"]).endswith("StateEntered"))
    return {"state_transitions": entered, "history_events": len(events)}


def transitions_by_tier(bench: Bench) -> dict[str, dict[str, Any]]:
    """Each default tier's approval, and a tier-1 rejection at its first stage."""
    found: dict[str, dict[str, Any]] = {}
    for tier, outcome in ((1, "approve"), (2, "approve"), (3, "approve"), (1, "reject")):
        model_id = bench.model(tier)
        request = bench.submit(model_id)
        bench.through(request, outcome)
        want = "approved" if outcome == "approve" else "rejected"
        bench.until_status(model_id, want)
        counted = _transitions(bench.stack, request["id"])
        stages = len(request["stages"])
        label = f"tier {tier} {want}"
        found[label] = {
            **counted,
            "stages": stages,
            "cost_usd": round(counted["state_transitions"] * PRICE_PER_TRANSITION, 6),
        }
    return found


def run() -> dict[str, Any]:
    """This part of `python -m bench`: results.json's `approvals`."""
    logging.disable(logging.INFO)
    stack = start(PLATFORM_KEY)
    try:
        bench = Bench(stack)
        result = {"transitions": transitions_by_tier(bench)}
        result["decision_to_approved"] = decision_to_approved(bench)
    finally:
        stack.stop()
    return result


def report(result: dict[str, Any]) -> Report:
    out = Report()
    latency = result["decision_to_approved"]
    out.lines.append(
        f"Approvals on make run: last quorum decision to the version showing approved, over "
        f"{latency['requests']} requests: p50 {latency['p50_s']} s, p95 {latency['p95_s']} s "
        f"(max {latency['max_s']} s)."
    )
    for label, counted in result["transitions"].items():
        out.lines.append(
            f"Step Functions, {label} ({counted['stages']} stages): "
            f"{counted['state_transitions']} state transitions, "
            f"${counted['cost_usd']:.6f} a request "
            f"({counted['history_events']} history events)."
        )
    return out


def main() -> int:
    found = report(run())
    print("\n".join(found.lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
