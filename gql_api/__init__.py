"""Calendar-connection GraphQL API of the mentoring platform."""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
