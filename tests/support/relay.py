"""relay-compiler over the Relay app of tests/e2e/relay/src, as a Relay project would run it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.support.npm import installed

HERE = Path(__file__).resolve().parents[1] / "e2e" / "relay"
SCHEMA = HERE.parents[2] / "schema.graphql"
RUN_SECONDS = 120


def relay_compile(workdir: Path, schema: Path = SCHEMA) -> tuple[subprocess.CompletedProcess[str], Path]:
    """relay-compiler over a copy of src/ against `schema`; returns the run and the persisted-queries file."""
    compiler = installed(HERE, ".bin", "relay-compiler")
    shutil.copytree(HERE / "src", workdir / "src")
    generated = workdir / "__generated__"
    generated.mkdir()
    manifest = generated / "persisted_queries.json"
    manifest.write_text("{}")
    config = json.loads((HERE / "relay.config.json").read_text())
    config["schema"] = str(schema)
    (workdir / "relay.config.json").write_text(json.dumps(config))
    run = subprocess.run(
        [str(compiler), "relay.config.json"], cwd=workdir, capture_output=True, text=True, timeout=RUN_SECONDS
    )
    return run, manifest
