"""Custos: the Chalice application. Routes live in chalicelib/api blueprints."""

from __future__ import annotations

import time
from collections.abc import Callable

from chalice import Chalice, Response
from chalice.app import Request

from chalicelib.api import (
    approvals,
    artifacts,
    audit,
    deployments,
    exports,
    findings,
    meta,
    metrics,
    models,
    policy,
    principals,
    reports,
    scans,
    tenants,
    webhooks,
)
from chalicelib.api.http import edge_problem
from chalicelib.handlers import artifacts as artifact_handlers
from chalicelib.handlers import audit as audit_schedules
from chalicelib.handlers import compliance as compliance_handlers
from chalicelib.handlers import exports as export_handlers
from chalicelib.handlers import relay, workflow
from chalicelib.handlers import webhooks as webhook_handlers

app = Chalice(app_name="custos")
app.api.binary_types = []  # every body is JSON; never base64 a request
for blueprint in (
    meta.bp,
    tenants.bp,
    principals.bp,
    models.bp,
    artifacts.bp,
    policy.bp,
    approvals.bp,
    deployments.bp,
    metrics.bp,
    webhooks.bp,
    audit.bp,
    findings.bp,
    scans.bp,
    reports.bp,
    exports.bp,
):
    app.register_blueprint(blueprint)
# Entry points no HTTP request starts (chalicelib.entrypoints declares them).
for blueprint in (
    relay.bp,
    workflow.bp,
    artifact_handlers.bp,
    webhook_handlers.bp,
    audit_schedules.bp,
    compliance_handlers.bp,
    export_handlers.bp,
):
    app.register_blueprint(blueprint)


@app.middleware("http")
def problem_json_everywhere(
    event: Request, get_response: Callable[[Request], Response]
) -> Response:
    """Answers Chalice gives itself (405, 415, …) become problem+json too."""
    started = time.perf_counter()
    return edge_problem(event, get_response(event), started)
