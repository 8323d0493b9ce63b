"""The fault-injection harness keeps AWS's behaviour: what botocore retries, and how."""

from __future__ import annotations

from tests.conftest import PLATFORM_KEY, Api
from tests.harness.faults import Faults, PerRequest, Site


def test_an_injected_fault_is_retried_by_botocore_with_its_backoff_recorded_not_slept(
    api: Api, faults: Faults
) -> None:
    fault = faults.inject(Site("dynamodb", "Query"), "throttling", times=2)
    answer = PerRequest(api, faults).get("/v1/tenants", PLATFORM_KEY)
    assert answer.status == 200
    assert fault.hits == 2
    assert [what for site, what in faults.log if site.operation == "Query"] == [
        "attempt 1: throttling",
        "attempt 2: throttling",
        "attempt 3: moto 200",
    ]
    assert len(faults.delays) == 2 and all(d > 0 for d in faults.delays)


def test_a_lost_answer_to_a_transaction_is_replayed_by_its_token_not_applied_twice(
    api: Api, faults: Faults
) -> None:
    """DynamoDB answers a retry with the same ClientRequestToken with the first success;
    the harness emulates it (moto does not), so a lost answer is not a bogus conflict."""
    fault = faults.inject(Site("dynamodb", "TransactWriteItems"), "lost-response", times=1)
    body = {"name": "Umbrella", "admin_name": "Al", "admin_email": "al@u.example"}
    answer = PerRequest(api, faults).post("/v1/tenants", PLATFORM_KEY, body)
    assert answer.status == 201, answer.json
    assert fault.hits == 1
    listed = api.get("/v1/tenants", PLATFORM_KEY).json["items"]
    assert [t["name"] for t in listed] == ["Umbrella"]
