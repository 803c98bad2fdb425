"""Calendar-connection GraphQL API of the mentoring platform.

`create_app` and `Settings` are loaded on first use (PEP 562), so importing a subpackage such as
`gql_api.domain` or `gql_api.services` loads no web framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .settings import Settings

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
