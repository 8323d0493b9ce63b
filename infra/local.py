"""`make run`: the whole backend on this machine, with moto as AWS.

Starts an embedded moto server on 127.0.0.1, creates the resources of
`infra/resources.py`, seeds a demo tenant with a principal for every role,
prints the keys, serves the API on http://127.0.0.1:$CUSTOS_PORT (8000) and
runs the event dispatcher, until Ctrl-C.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO_PEOPLE = [
    ("Dana Developer", "developer"),
    ("Devon Developer", "developer"),
    ("Vera Validator", "validator"),
    ("Victor Validator", "validator"),
    ("Ada Approver", "approver"),
    ("Abel Approver", "approver"),
    ("April Approver", "approver"),
    ("Otto Auditor", "auditor"),
    ("Mona Monitor", "monitor"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto() -> tuple[Any, int]:
    """An embedded moto server on 127.0.0.1: connections kept alive, DynamoDB applied one
    request at a time (infra/moto_server.py), and Step Functions executions really run
    (their SQS sends and task-token callbacks reach this same server: MOTO_PORT)."""
    from infra import moto_patches
    from infra.moto_server import MotoServer

    moto_patches.install()
    server = MotoServer("127.0.0.1", 0)
    server.start()
    execute_state_machines(server.port)
    return server, server.port


def execute_state_machines(port: int) -> None:
    """Turn on moto's execution of state machine definitions (off by default)."""
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/moto-api/config",
        data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def aws_environment(moto_port: int) -> None:
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{moto_port}",
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
        MOTO_PORT=str(moto_port),
    )


def seed_demo() -> list[tuple[str, str, str]]:
    """A demo tenant with a principal for every role; returns (name, roles, key) rows.

    Each person's key is issued by the admin and then rotated by the person, as a new user
    would do first: only a key its principal rotated (or issued) itself may classify a
    model, decide an approval stage or accept a finding's risk. The admin's key is the one
    the platform issued with the tenant."""
    from chalicelib.domain.actors import Actor
    from chalicelib.domain.models import ApiKeyCreate, PrincipalCreate, TenantCreate
    from chalicelib.domain.roles import Role
    from chalicelib.services import own_keys, principals, tenants

    platform = Actor.platform_operator("seed")
    created = tenants.create_tenant(
        platform,
        TenantCreate(name="Demo Bank", admin_name="Alice Admin", admin_email="alice@demo.example"),
    )
    tenant_id = created.tenant.id
    admin = Actor.of_principal(
        "seed", tenant_id, created.admin.id, created.api_key.id, frozenset({Role.ADMIN})
    )
    rows = [("Alice Admin", "admin", str(created.api_key.secret))]
    for name, role in DEMO_PEOPLE:
        email = name.lower().replace(" ", ".") + "@demo.example"
        person = principals.create_principal(
            admin, PrincipalCreate(name=name, email=email, roles=[Role(role)])
        )
        issued = principals.create_key(
            admin, ApiKeyCreate(principal_id=person.id, name=f"{name} (demo)")
        )
        holder = Actor.of_principal(
            "seed", tenant_id, person.id, issued.id, frozenset({Role(role)}), admin.principal_id
        )
        key = own_keys.rotate_key(holder, issued.id)
        rows.append((name, role, str(key.secret)))
    print(f"\nDemo tenant {tenant_id} (Demo Bank), each key rotated by its holder:")
    return rows


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_server, moto_port = start_moto()
    aws_environment(moto_port)

    import boto3

    from infra.provision import provision

    platform_key = os.environ.get("CUSTOS_PLATFORM_KEY") or "cusp_" + secrets.token_urlsafe(32)
    session = boto3.session.Session()
    env = provision(session, "custos-local", platform_key)
    # Local development: webhook receivers on this machine (127.0.0.1, localhost) are
    # allowed. Deployed, the setting is off and only public addresses are.
    env["CUSTOS_WEBHOOKS_ALLOW_LOOPBACK"] = os.environ.get("CUSTOS_WEBHOOKS_ALLOW_LOOPBACK", "true")
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))

    from chalice.config import Config

    from app import app
    from chalicelib import bootstrap
    from infra.dispatch import Dispatcher

    bootstrap.reset()
    rows = seed_demo()
    print(f"\nPlatform key:  {platform_key}")
    for name, role, key in rows:
        print(f"  {role:<10} {name:<18} {key}")

    port = int(os.environ.get("CUSTOS_PORT", "8000"))
    config = Config.create(
        chalice_stage="dev",
        chalice_app=app,
        project_dir=str(ROOT),
        app_name="custos",
        environment_variables=env,
    )
    server = serve(app, config, port)
    dispatcher = Dispatcher(app, session, env)
    dispatcher.start()
    stop = threading.Event()
    # Both signals, explicitly: a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if env["CUSTOS_WEBHOOKS_ALLOW_LOOPBACK"] == "true":
        print(
            "\nWebhooks: local development setting on: receivers on loopback addresses"
            " (127.0.0.1, localhost) are allowed (CUSTOS_WEBHOOKS_ALLOW_LOOPBACK=false to refuse)"
        )
    print(
        f"\nCustos API on http://127.0.0.1:{port}/v1 (moto on :{moto_port}). Ctrl-C stops.",
        flush=True,
    )
    while not stop.wait(0.5):
        pass
    print("\nstopping…", flush=True)

    def stop_all() -> None:
        server.shutdown()
        dispatcher.stop()
        moto_server.stop()

    stopper = threading.Thread(target=stop_all, daemon=True)
    stopper.start()
    stopper.join(timeout=15)
    if stopper.is_alive():  # a stuck connection must not keep the stack running
        print("forced stop", flush=True)
        os._exit(1)
    print("stopped", flush=True)


def serve(app: Any, config: Any, port: int) -> Any:
    """chalice's local server, answering unknown routes as the AWS stack's gateway does."""
    from chalice import local

    class GatewayLikeHandler(local.ChaliceRequestHandler):
        # Headers and body go out as two writes; with Nagle's algorithm the body waits for
        # the client's delayed ACK, adding ~40 ms to every keep-alive request.
        disable_nagle_algorithm = True

        def _send_error_response(self, error: local.LocalGatewayException) -> None:
            # chalice's local gateway answers an unknown route with 403 (and, when the
            # request has an Authorization header, echoes the header back); the stack's
            # gateway answers 404 problem+json and echoes nothing.
            if isinstance(error, local.ForbiddenError):
                self._send_problem(404, "Not found", "no such route")
                return
            super()._send_error_response(error)

        def send_error(self, code: int, message: str | None = None, *_: Any) -> None:
            # http.server answers a method it has no handler for (TRACE, QUERY…) with a
            # 501 HTML page; the API answers such a method with 405 problem+json.
            if code != 501:
                super().send_error(code, message)
                return
            # Read the body, or it is taken for the next request on this keep-alive connection.
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                match = local.RouteMatcher(list(app.routes)).match_route(self.path)
            except ValueError:
                self._send_problem(404, "Not found", "no such route")
                return
            allowed = ", ".join(sorted(app.routes[match.route]))
            self._send_problem(
                405,
                "Method not allowed",
                "this route does not take that method",
                {"Allow": allowed},
            )

        def _send_problem(
            self, status: int, title: str, detail: str, headers: dict[str, str] | None = None
        ) -> None:
            slug = title.lower().replace(" ", "-")
            body = json.dumps(
                {
                    "type": f"https://custos.dev/problems/{slug}",
                    "title": title,
                    "status": status,
                    "detail": detail,
                }
            ).encode()
            self._send_http_response(
                status, {"Content-Type": "application/problem+json", **(headers or {})}, body
            )

    class Server(local.ThreadedHTTPServer):
        # socketserver's default backlog of 5 resets connections when many clients
        # connect at once.
        request_queue_size = 128

    # What chalice.local.create_local_server does, with our handler.
    local.CustomLocalChalice.__bases__ = (local.LocalChalice, app.__class__)
    app.__class__ = local.CustomLocalChalice
    return local.LocalDevServer(
        app, config, "127.0.0.1", port, handler_cls=GatewayLikeHandler, server_cls=Server
    )


if __name__ == "__main__":
    main()
