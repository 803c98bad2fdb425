"""What Relay and graphql-inspector say of schema.graphql.

- relay-compiler (pinned in package.json/package-lock.json beside this file) compiles src/: `@connection`
  on `meetings`, `@refetchable` fragments on Query, Meeting and CalendarConnection (which need the Node
  interface and `node(id:)`), `@appendNode` in a mutation, subscriptions (`@deleteRecord` on an unlinked
  connection's id), and keys on every object it normalizes; it
  also writes the persisted-queries manifest Relay apps deploy (used by tests/e2e/graphql/test_trusted_documents.py).
- graphql-inspector finds no breaking change from ../shared/contract.graphql to schema.graphql (the
  Python check in tests/e2e/test_schema.py says the same in its own way).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.support.npm import installed
from tests.support.relay import HERE, relay_compile

ROOT = HERE.parents[2]
SCHEMA = ROOT / "schema.graphql"
CONTRACT = ROOT.parent / "shared" / "contract.graphql"
RUN_SECONDS = 120


def test_relay_compiler_accepts_connections_and_refetchable_fragments(tmp_path):
    run, manifest = relay_compile(tmp_path)

    assert run.returncode == 0, run.stdout + run.stderr
    generated = {path.name for path in (tmp_path / "__generated__").iterdir()}
    assert {
        "MeetingListPaginationQuery.graphql.js",  # @refetchable + @connection on meetings
        "MeetingCardRefetchQuery.graphql.js",  # @refetchable on Meeting: through node(id:)
        "ConnectionCardRefetchQuery.graphql.js",  # @refetchable on CalendarConnection
        "AppScheduleMutation.graphql.js",
        "LiveUpdatesMeetingSubscription.graphql.js",  # subscriptions, an unlinked connection @deleteRecord
        "LiveUpdatesConnectionSubscription.graphql.js",
    } <= generated
    documents = json.loads(manifest.read_text())  # one persisted document per operation, by its SHA-256
    assert len(documents) == 7
    assert any("query MeetingCardRefetchQuery" in text and "node(id: $id)" in text for text in documents.values())


def test_relay_compiler_would_refuse_a_schema_without_them(tmp_path):
    # the contract alone (no Node, no node(id:), PageInfo without startCursor, no participant keys)
    if not CONTRACT.exists():
        pytest.skip(f"{CONTRACT} not found")

    run, _ = relay_compile(tmp_path, CONTRACT)

    assert run.returncode != 0
    assert "Participant" in run.stdout + run.stderr


def test_graphql_inspector_finds_no_breaking_change_from_the_contract():
    if not CONTRACT.exists():
        pytest.skip(f"{CONTRACT} not found")
    installed(HERE, "@graphql-inspector", "core", "package.json")

    run = subprocess.run(
        [shutil.which("node") or "node", str(HERE / "contract-diff.mjs"), str(CONTRACT), str(SCHEMA)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )

    lines = run.stdout.splitlines()
    assert lines, run.stderr[-2000:]
    counts = json.loads(lines[-1])
    print(*lines, sep="\n")
    assert counts["breaking"] == 0 and run.returncode == 0, run.stdout
