"""graphql-http's GraphQL-over-HTTP audit against the real app on 127.0.0.1: no MUST may fail, and
neither may the application/graphql-response+json SHOULDs the view implements.

Needs node and npm; the audit package (pinned in package.json/package-lock.json beside this file) is
installed into tests/e2e/graphql/node_modules by scripts/test, or here on first use.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
AUDIT_PACKAGE = HERE / "node_modules" / "graphql-http" / "package.json"
INSTALL_SECONDS = 180
AUDIT_SECONDS = 120


def installed_audit() -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.skip("the graphql-http audit needs node and npm on PATH; neither is there, so it did not run")
    if AUDIT_PACKAGE.exists():
        return
    try:
        subprocess.run(
            [npm, "ci", "--prefix", str(HERE), "--no-audit", "--no-fund", "--loglevel=error"],
            check=True,
            capture_output=True,
            text=True,
            timeout=INSTALL_SECONDS,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        pytest.fail(f"could not install graphql-http with npm ci in {HERE}: {getattr(error, 'stderr', '')[-2000:]}")


async def test_the_graphql_over_http_audit_finds_no_errors(api):
    # given the audit installed and the app serving on a loopback port
    installed_audit()
    url = str(api.client.make_url("/graphql"))
    assert url.startswith("http://127.0.0.1:")

    # when the audit runs against it, as an authenticated client
    process = await asyncio.create_subprocess_exec(
        shutil.which("node"),
        str(HERE / "audit.mjs"),
        url,
        cwd=HERE,
        env={**os.environ, "AUDIT_AUTHORIZATION": f"Bearer {api.token('auditor')}"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), AUDIT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"the audit did not finish in {AUDIT_SECONDS} s")
    lines = stdout.decode().splitlines()
    assert lines, stderr.decode()[-2000:]
    counts = json.loads(lines[-1])
    print(f"graphql-http audit: {counts}", *lines[:-1], sep="\n")

    # then no audit failed, and no SHOULD was missed either: the only non-ok results are notices
    assert counts["error"] == 0, "\n".join(lines)
    assert counts["warn"] == 0, "\n".join(lines)
    assert process.returncode == 0
    assert counts["ok"] >= 50
