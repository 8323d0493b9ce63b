"""One synthesis of the CDK app per test session, shared by tests/infra.

Synthesis runs `chalice package` (it downloads Linux wheels), so it is done
once: every test using `synthesized` is marked slow and put in the xdist group
"cdk", so under `pytest -n 2 --dist loadgroup` they share one worker and this
session fixture.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class Synthesized:
    stack: Any
    template: dict[str, Any]
    template_path: Path


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The synthesized stack (without the cdk-nag plugin: test_stack checks nag itself)."""
    pytest.importorskip("aws_cdk", reason="needs the cdk extra: pip install -e '.[dev,cdk]'")
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from infra.cdk.app import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = build_app(str(outdir), nag=False)
    app.synth()
    template_path = outdir / stack.template_file
    return Synthesized(stack, json.loads(template_path.read_text()), template_path)
