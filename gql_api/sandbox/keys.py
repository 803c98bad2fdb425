"""Application keys shared by the sandbox's handlers."""

from aiohttp import web

from .state import SandboxState

SANDBOX_STATE = web.AppKey("sandbox_state", SandboxState)
