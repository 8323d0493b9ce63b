"""Run one benchmark part in an interpreter of its own.

`python -m bench.part MODULE OUT` imports MODULE, calls its `run()` and writes the
returned dict to OUT as JSON. A part sets up things that must not leak into the next
(moto's in-process mock, botocore hooks, environment variables, re-imported app
modules, a moto server thread), so `python -m bench` runs each part this way.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_in_child(module: str) -> dict[str, Any]:
    """`module.run()` in a fresh python; what it prints goes to stderr."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run(
            [sys.executable, "-m", "bench.part", module, str(out)],
            cwd=ROOT,
            stdout=sys.stderr,
            check=True,
        )
        result: dict[str, Any] = json.loads(out.read_text())
    return result


def main(argv: list[str]) -> None:
    module, out = argv
    result = importlib.import_module(module).run()
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
