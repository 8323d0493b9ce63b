"""Settings read from the environment, once, on first use (never at import)."""

from __future__ import annotations

import os
from functools import cache
from typing import NamedTuple


class Settings(NamedTuple):
    table: str
    bucket: str
    events_topic_arn: str
    approval_state_machine_arn: str
    platform_key_secret: str
    cursor_key_secret: str
    region: str
    auth_cache_seconds: float
    max_body_bytes: int


@cache
def settings() -> Settings:
    """The process's settings; `settings.cache_clear()` re-reads them (tests)."""
    env = os.environ
    return Settings(
        table=env.get("CUSTOS_TABLE", "custos-main"),
        bucket=env.get("CUSTOS_BUCKET", "custos-artifacts"),
        events_topic_arn=env.get("CUSTOS_EVENTS_TOPIC_ARN", ""),
        approval_state_machine_arn=env.get("CUSTOS_APPROVAL_STATE_MACHINE_ARN", ""),
        platform_key_secret=env.get("CUSTOS_PLATFORM_KEY_SECRET", "custos/platform-key-hash"),
        cursor_key_secret=env.get("CUSTOS_CURSOR_KEY_SECRET", "custos/cursor-signing-key"),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        auth_cache_seconds=float(env.get("CUSTOS_AUTH_CACHE_SECONDS", "30")),
        max_body_bytes=int(env.get("CUSTOS_MAX_BODY_BYTES", str(256 * 1024))),
    )
