"""Sending an artifact's bytes the way a client does: through the presigned URLs the
registration answered, with `requests` (in-process moto serves S3 URLs to it; over HTTP,
the local stack's moto server does)."""

from __future__ import annotations

import hashlib
from typing import Any

import requests

TIMEOUT = 60


def artifact_body(content: bytes, name: str = "model.bin", **fields: Any) -> dict[str, Any]:
    """A registration of `content` under `name`: its true size and SHA-256, unless `fields`
    says otherwise."""
    return {
        "name": name,
        "kind": "model",
        "media_type": "application/octet-stream",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        **fields,
    }


def put(upload: dict[str, Any], content: bytes, **extra: str) -> requests.Response:
    """One PUT of the single upload's URL with its required headers (plus `extra`)."""
    sent = requests.put(
        upload["url"], data=content, headers={**upload["headers"], **extra}, timeout=TIMEOUT
    )
    assert sent.ok, (sent.status_code, sent.text)
    return sent


def put_parts(upload: dict[str, Any], content: bytes, only: set[int] | None = None) -> None:
    """PUT each part of a multipart upload (or only the part numbers in `only`)."""
    offset = 0
    for part in upload["parts"]:
        chunk = content[offset : offset + part["size"]]
        offset += part["size"]
        if only is not None and part["number"] not in only:
            continue
        sent = requests.put(part["url"], data=chunk, timeout=TIMEOUT)
        assert sent.ok, (part["number"], sent.status_code, sent.text)
