"""Prefixed ULIDs: time-ordered, globally unique, and self-describing (`mdl_01J…`)."""

from __future__ import annotations

import re

PREFIXES = {
    "tenant": "ten",
    "principal": "prn",
    "api_key": "key",
    "model": "mdl",
    "version": "ver",
    "approval_request": "apr",
    "deployment": "dep",
    "audit_event": "aud",
    "event": "evt",
    "webhook": "whk",
    "delivery": "dlv",
    "request": "req",
    "export": "exp",
    "finding": "fnd",
    "scan": "scn",
}

_ID = re.compile(r"^(?P<prefix>[a-z]{3})_(?P<ulid>[0-9A-HJKMNP-TV-Z]{26})$")


def new_id(kind: str) -> str:
    """A new id for an object of `kind` (a key of PREFIXES)."""
    # Imported on first use: python-ulid reads its package metadata at import (a scan of
    # the installed distributions), which a cold start that only reads need not pay.
    from ulid import ULID

    return f"{PREFIXES[kind]}_{ULID()}"


def is_id(value: str, kind: str) -> bool:
    """True when `value` is shaped like an id of `kind`; says nothing of existence."""
    match = _ID.match(value)
    return match is not None and match.group("prefix") == PREFIXES[kind]
