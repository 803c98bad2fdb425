"""Application keys shared by the sandbox's handlers."""

from aiohttp import web

from .push import Pusher
from .state import SandboxState

SANDBOX_STATE = web.AppKey("sandbox_state", SandboxState)
SANDBOX_PUSHER = web.AppKey("sandbox_pusher", Pusher)
