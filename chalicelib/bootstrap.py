"""Lazily built, per-process cached AWS clients and stores.

Nothing here runs at import time; the first request builds what it needs and
warm invocations reuse it. Tests reset everything with `reset()` after
changing the environment.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.config import settings

_CLIENT_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=2,
    max_pool_connections=64,
    read_timeout=10,
    # Account-id based DynamoDB endpoints are not served by moto; on AWS the
    # regional endpoint is equally right.
    account_id_endpoint_mode="disabled",
)


@cache
def client(service: str) -> Any:
    """A boto3 client for `service`, created once per process."""
    return boto3.session.Session().client(
        service, region_name=settings().region, config=_CLIENT_CONFIG
    )


def reset() -> None:
    """Forget cached clients, settings and stores (tests change the environment)."""
    from chalicelib import auth
    from chalicelib.store import audit_head, secrets

    client.cache_clear()
    settings.cache_clear()
    secrets.clear_cache()
    audit_head.clear_cache()
    auth.clear_cache()
