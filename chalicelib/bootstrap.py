"""Lazily built, per-process cached AWS clients, and the registry of process caches.

Nothing here runs at import time; the first request builds what it needs and warm
invocations reuse it. Modules that cache per process register their `clear` here
(`caches.append`), so `reset()` (tests, after changing the environment) forgets them all
without this module knowing who they are.
"""

from __future__ import annotations

from collections.abc import Callable
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

# Presigned URLs are signed with SigV4 (botocore presigns S3 with SigV2 for a custom
# endpoint, such as the local stack's, and AWS no longer accepts SigV2 everywhere).
_SERVICE_CONFIG = {"s3": _CLIENT_CONFIG.merge(Config(signature_version="s3v4"))}

caches: list[Callable[[], None]] = []


@cache
def client(service: str) -> Any:
    """A boto3 client for `service`, created once per process."""
    return boto3.session.Session().client(
        service,
        region_name=settings().region,
        config=_SERVICE_CONFIG.get(service, _CLIENT_CONFIG),
    )


def reset() -> None:
    """Forget cached clients, settings and every registered cache (tests change the
    environment)."""
    client.cache_clear()
    settings.cache_clear()
    for clear in caches:
        clear()
