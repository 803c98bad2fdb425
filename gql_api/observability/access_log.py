"""One access line per request: the path without its query string (it carries OAuth codes and states)
and without the values of path variables (a webhook path carries its channel's secret token).

aiohttp also calls this for requests it refused itself (a bad request line, a bad header, no Host): it
then hands over a bare BaseRequest that was never routed and never went through our middleware, so
nothing here may assume a route, a request id or an operation.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_urldispatcher import UrlMappingMatchInfo

from ..keys import OPERATION, REQUEST_ID

MAX_LOGGED_PATH = 100  # an unrouted path is the client's text: enough to recognise it, never all of it


class AccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = _logged_path(request)
        self.logger.info(
            "%s %s %s",
            request.method,
            path,
            response.status,
            extra={
                "request_id": request.get(REQUEST_ID),
                "operation": request.get(OPERATION),
                "method": request.method,
                "path": path,
                "status": response.status,
                "duration_ms": round(time * 1000, 1),
                "remote": request.remote,
            },
        )


def _logged_path(request: web.BaseRequest) -> str:
    match_info = _match_info(request)
    resource = match_info.route.resource if match_info is not None and match_info.route else None
    if resource is not None and getattr(resource, "canonical", None) and match_info:
        return str(resource.canonical)
    path = request.path
    return path if len(path) <= MAX_LOGGED_PATH else path[:MAX_LOGGED_PATH] + "..."


def _match_info(request: web.BaseRequest) -> UrlMappingMatchInfo | None:
    """The route's match, if the request was routed: a request aiohttp refused before routing has none
    (and `Request.match_info` asserts that it has one)."""
    if not isinstance(request, web.Request):
        return None
    try:
        return request.match_info
    except AssertionError:
        return None


class QuietBadRequests(logging.Filter):
    """aiohttp logs every request it cannot parse (a bad request line, a bad header, no Host) at ERROR with a
    traceback, and anyone can send those: they are the client's fault. The access line (status 400) is
    the one line at INFO; this one says why, at DEBUG (as aiohttp does for a bad method), without the
    traceback and without the offending bytes, which are the client's text."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            if not self._debug_enabled(record):
                return False
            record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
            record.msg, record.args = "malformed HTTP request refused: %s (%s)", (type(error).__name__, error.code)
            record.exc_info, record.exc_text = None, None
        return True

    @staticmethod
    def _debug_enabled(record: logging.LogRecord) -> bool:
        """The record passed the logger's level as an ERROR; as a DEBUG it must pass it too."""
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


# aiohttp's server logger for our apps (create_app's handler_args), with the filter above: aiohttp's own
# "aiohttp.server" logger is left as it is, for other apps in the same process.
server_log = logging.getLogger("gql_api.http.server")
server_log.addFilter(QuietBadRequests())
