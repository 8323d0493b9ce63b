"""The cold-start budget's guard (docs/architecture.md, section 9): a fresh process that
imports the app and serves one authenticated GET through the Lambda entry point imports no
pydantic. pydantic alone costs a cold start more than the budget leaves, so a route or a
service that pulls it onto that path (a model imported at the top of a route module, a
GET answered through a model) is caught here, named by the import that brought it in.
The time itself is measured by `python -m bench.cold_start`, never here."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice.test import Client

from bench.cold_child import ROUTE
from bench.cold_start import deployed_environment
from tests.conftest import PLATFORM_KEY, Api, new_model
from tests.harness.processes import FAKE_AWS, ROOT, child_env, moto_server
from tests.harness.world import make_tenant

# Runs in the fresh process: a finder that only watches records the stack of the first
# import of pydantic; then the GET goes to the app's Lambda entry point, as in the bench.
CHILD = """
import json, os, sys, traceback

first = []

class Watch:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("pydantic", "pydantic_core") and not first:
            first.append("".join(traceback.format_stack()[-16:-1]))
        return None

sys.meta_path.insert(0, Watch())
from bench.cold_child import LambdaContext, proxy_event
from app import app

model_id, key = os.environ["COLD_MODEL_ID"], os.environ["COLD_KEY"]
answer = app(proxy_event(model_id, key), LambdaContext())
# Then the problems a GET answers: another model (404), a wrong secret (401).
missing = app(proxy_event(model_id[:-4] + "ZZZZ", key), LambdaContext())
refused = app(proxy_event(model_id, key[:-4] + "AAAA"), LambdaContext())
loaded = sorted(m for m in sys.modules if m.partition(".")[0] in ("pydantic", "pydantic_core"))
print(json.dumps({"answers": [answer, missing, refused], "pydantic": loaded, "first": first}))
"""


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A moto server (a process of its own) with the resources, a tenant and a model made
    through the API; yields the environment of a deployed function and the model."""
    from app import app
    from chalicelib import bootstrap
    from infra.provision import provision

    with moto_server() as endpoint:
        aws = {**FAKE_AWS, "AWS_ENDPOINT_URL": endpoint}
        for name, value in aws.items():
            monkeypatch.setenv(name, value)
        custos = provision(boto3.session.Session(), "cold", PLATFORM_KEY)
        for name, value in custos.items():
            monkeypatch.setenv(name, value)
        bootstrap.reset()
        with Client(app) as client:
            api = Api(client)
            tenant = make_tenant(api, "Cold", PLATFORM_KEY, people={"developer": ["developer"]})
            model = new_model(api, tenant, tags=["credit"], inputs=["income"])
            warm = api.get(ROUTE.format(model_id=model["id"]), tenant.keys["developer"])
        bootstrap.reset()
        env = {**deployed_environment(), **aws, **custos, "PYTHONPATH": str(ROOT)}
        env.update(COLD_MODEL_ID=model["id"], COLD_KEY=tenant.keys["developer"])
        yield {"env": env, "warm": warm}


def test_a_cold_process_serves_an_authenticated_get_without_importing_pydantic(
    served: dict[str, Any],
) -> None:
    # GIVEN a stored model, WHEN a fresh process imports the app and GETs it with a key
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=child_env(served["env"]),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    *logged, last = done.stdout.strip().splitlines()
    found = json.loads(last)

    # THEN it answers the model as a warm process does, ETag included, and then a missing
    # model and a wrong secret as problems
    answer, missing, refused = found["answers"]
    assert answer["statusCode"] == 200, answer["body"]
    assert json.loads(answer["body"]) == served["warm"].json
    assert answer["headers"]["ETag"] == served["warm"].headers["etag"]
    assert (missing["statusCode"], refused["statusCode"]) == (404, 401)
    assert missing["headers"]["Content-Type"] == "application/problem+json"
    assert json.loads(refused["body"])["title"] == "Authentication required"
    assert [json.loads(line)["status"] for line in logged] == [200, 404, 401]  # one line each
    # AND no pydantic module was imported on the way
    first = found["first"][0] if found["first"] else ""
    assert found["pydantic"] == [], f"pydantic was first imported from:\n{first}"
