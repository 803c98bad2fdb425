"""GraphiQL, served by this server from files vendored in the package (graphiql/, see
scripts/vendor-graphiql): no CDN at run time, so it works on a machine without that network, and a
Content-Security-Policy lets the page load nothing from anywhere else."""

from __future__ import annotations

import functools
import gzip
import json
import secrets
from importlib import resources
from importlib.resources.abc import Traversable

ASSETS_PATH = "/graphiql"  # where http/graphiql.py serves the files


@functools.cache
def vendored() -> dict[str, dict[str, str]]:
    """Each served file: its package, version, path in the package, SHA-256 and SRI hash."""
    return dict(json.loads(_folder().joinpath("vendored.json").read_text()))


@functools.cache
def asset(name: str) -> bytes | None:
    """A vendored file, gzip-compressed as stored; None for any other name."""
    if name not in vendored():
        return None
    return _folder().joinpath(f"{name}.gz").read_bytes()


def decompressed(name: str) -> bytes | None:
    stored = asset(name)
    return gzip.decompress(stored) if stored is not None else None


def page() -> tuple[str, dict[str, str]]:
    """The GraphiQL page and its headers: a fresh nonce for its own inline script and style, and a CSP
    allowing nothing but this server (and WebSockets to it, for subscriptions)."""
    nonce = secrets.token_urlsafe(16)
    integrity = {name: meta["integrity"] for name, meta in vendored().items()}
    html = _template().format(
        nonce=nonce, assets=ASSETS_PATH, integrity=integrity, version=vendored()["graphiql.min.js"]["version"]
    )
    policy = "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",  # GraphiQL sets style attributes (a nonce would forbid them)
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )
    return html, {"Content-Security-Policy": policy, "Cache-Control": "no-store"}


@functools.cache
def _template() -> str:
    return _folder().joinpath("index.html").read_text()


def _folder() -> Traversable:
    return resources.files(__package__).joinpath("graphiql")
