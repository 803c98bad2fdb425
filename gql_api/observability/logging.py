"""JSON log lines, each carrying the id of the request it was written for (bound once, in a contextvar)."""

from __future__ import annotations

import contextvars
import json
import logging
import re
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_STANDARD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            line["request_id"] = request_id
        line.update(
            {
                key: value
                for key, value in vars(record).items()
                if key not in _STANDARD_FIELDS and not key.startswith("_")
            }
        )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(fmt: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


MAX_LOGGED_OPERATION = 64
_GRAPHQL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def safe_operation_name(name: str | None) -> str:
    """The client's `operationName` as it may be logged or kept on the request: a GraphQL name, cut to 64
    characters ("..." then says so); text that is no name (markup, newlines, quotes) is "(invalid)".
    Absent: "anonymous". A 200 KB name thus never reaches a log line."""
    if not name:
        return "anonymous"
    shown = name[:MAX_LOGGED_OPERATION]
    if not _GRAPHQL_NAME.fullmatch(shown):
        return "(invalid)"
    return shown if len(name) <= MAX_LOGGED_OPERATION else shown + "..."
