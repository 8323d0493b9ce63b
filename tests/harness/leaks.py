"""What an event must never carry: a field named like a secret or a token, or a value that
is one (a `cus_` bearer key, a `whsec_` webhook secret, a task token the test knows)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

# `token`, `task_token`, `secret`, `secret_hash`, `key_secret`, `token_hash`...; not
# `secret_expires_at`, which says when, not what.
SECRET_NAME = re.compile(r"(^|_)(token|secret)(_hash)?$", re.IGNORECASE)
SECRET_VALUE = re.compile(r"^(cus|whsec)_")


def _walk(document: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, value) under `document`, a dict's keys named in the path."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield f"{path}.{key}", value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield f"{path}[{index}]", value
            yield from _walk(value, f"{path}[{index}]")


def secret_names(document: Any) -> list[str]:
    """The paths of the keys of `document` (a payload, or a JSON Schema's properties)
    named like a secret or a token."""
    return [p for p, _ in _walk(document) if SECRET_NAME.search(p.rsplit(".", 1)[-1])]


def secret_values(document: Any, known: Iterable[str] = ()) -> list[str]:
    """The paths of the values of `document` that are a bearer key, a webhook secret or
    one of `known` (task tokens, key secrets the test holds)."""
    secrets = {k for k in known if k}
    return [
        p
        for p, v in _walk(document)
        if isinstance(v, str) and (SECRET_VALUE.match(v) or any(s in v for s in secrets))
    ]
