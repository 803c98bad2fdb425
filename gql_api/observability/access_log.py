"""One access line per request: the path without its query string (it carries OAuth codes and states)
and without the values of path variables (a webhook path carries its channel's secret token)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from ..keys import OPERATION, REQUEST_ID


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
    match_info = getattr(request, "match_info", None)
    resource = match_info.route.resource if match_info is not None and match_info.route else None
    if resource is not None and getattr(resource, "canonical", None) and match_info:
        return str(resource.canonical)
    return request.path
