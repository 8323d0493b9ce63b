"""Stage a Chalice project directory for `chalice package`.

The repository's top level is fixed and has no requirements.txt, and the
per-function IAM roles only exist as CDK tokens. So the stack packages a copy:
app.py, chalicelib/, a generated requirements.txt (pinned, from pyproject's
`[project].dependencies`) and a generated .chalice/config.json whose stage
carries the roles and environment. Nothing in the working tree is written.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

# chalice ships its own runtime module inside the zip; the distribution itself
# (CLI, click, inquirer, ...) has no business in the Lambda package.
_NOT_SHIPPED = {"chalice"}
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def runtime_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The pinned runtime dependencies that go into the Lambda zip."""
    dependencies: list[str] = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    shipped = []
    for spec in dependencies:
        match = _NAME.match(spec)
        if match is None or "==" not in spec:
            raise ValueError(f"runtime dependency {spec!r} must be pinned with ==")
        if match.group(1).lower() not in _NOT_SHIPPED:
            shipped.append(spec.strip())
    return shipped


def chalice_config(
    source_stage: str, chalice_stage: str, overrides: dict[str, Any]
) -> dict[str, Any]:
    """The repository's .chalice/config.json plus a `chalice_stage` entry for packaging.

    The entry is the repository's `source_stage` settings (memory, timeout, API
    stage name: defined once, in .chalice/config.json) with `overrides` on top.
    chalice.cdk names the stage after the construct's scope, hence two names.
    """
    config: dict[str, Any] = json.loads((REPO_ROOT / ".chalice" / "config.json").read_text())
    stages = config.setdefault("stages", {})
    stages[chalice_stage] = {**stages.get(source_stage, {}), **overrides}
    return config


def stage_project(dest: Path, config: dict[str, Any]) -> Path:
    """Copy the app into `dest` with a generated config and requirements file."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "app.py", dest / "app.py")
    shutil.copytree(
        REPO_ROOT / "chalicelib",
        dest / "chalicelib",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    (dest / ".chalice").mkdir()
    (dest / ".chalice" / "config.json").write_text(json.dumps(config, indent=2))
    (dest / "requirements.txt").write_text("\n".join(runtime_requirements()) + "\n")
    return dest
