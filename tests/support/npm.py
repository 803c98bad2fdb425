"""Node packages the tests run (pinned by a package-lock.json beside the test), installed on first use.

scripts/test installs them with `npm ci` before the suite; this covers a test run on its own."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

INSTALL_SECONDS = 300


def installed(package_dir: Path, *marker: str) -> Path:
    """The package's node_modules/<marker...>, installed from its lock file when missing; skips the test
    where node or npm is not on PATH."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not (node and npm):
        pytest.skip(f"{package_dir.name}: needs node and npm on PATH; neither is there, so it did not run")
    target = package_dir.joinpath("node_modules", *marker)
    if not target.exists():
        try:
            subprocess.run(
                [npm, "ci", "--prefix", str(package_dir), "--no-audit", "--no-fund", "--loglevel=error"],
                check=True,
                capture_output=True,
                text=True,
                timeout=INSTALL_SECONDS,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            pytest.fail(f"npm ci in {package_dir} failed: {str(getattr(error, 'stderr', ''))[-2000:]}")
    return target
