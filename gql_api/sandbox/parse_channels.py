"""Reading `POST /v1/channels` bodies: a pure function that parses, or says what is wrong (§7.1)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .problems import Errors, Problems, malformed_body_errors

MAX_CALLBACK_URL = 128  # older Cronofy docs: "at most 128 characters"


@dataclass(frozen=True)
class ChannelRequest:
    callback_url: str
    calendar_ids: tuple[str, ...] | None = None  # None: every calendar
    only_managed: bool = False


def only_managed_requested(body: Any) -> bool:
    """Whether the body asks for managed events only (then `create_event` is scope enough)."""
    filters = body.get("filters") if isinstance(body, dict) else None
    return isinstance(filters, dict) and filters.get("only_managed") is True


def parse_channel(body: Any, calendar_ids: Collection[str]) -> tuple[ChannelRequest | None, Errors]:
    """A create-channel body; `calendar_ids` are the account's, the only ones a filter may name."""
    if not isinstance(body, dict):
        return None, malformed_body_errors()
    problems = Problems()

    callback_url = body.get("callback_url")
    if callback_url is None or callback_url == "":
        problems.add("callback_url", "required", "required")
    elif not isinstance(callback_url, str) or not _is_web_url(callback_url):
        problems.add("callback_url", "invalid", "must be an absolute http or https URL")
    elif len(callback_url) > MAX_CALLBACK_URL:
        problems.add("callback_url", "too_long", f"must be at most {MAX_CALLBACK_URL} characters")

    filters = body.get("filters", {})
    if filters is None:
        filters = {}
    if not isinstance(filters, dict):
        problems.add("filters", "invalid", 'must be {"calendar_ids": [...], "only_managed": true|false}')
        filters = {}

    only_managed = filters.get("only_managed", False)
    if not isinstance(only_managed, bool):
        problems.add("filters.only_managed", "invalid", "must be true or false")

    wanted = filters.get("calendar_ids")
    if wanted is not None:
        if not isinstance(wanted, list) or not all(isinstance(c, str) for c in wanted):
            problems.add("filters.calendar_ids", "invalid", "must be a list of calendar ids")
        elif not wanted:
            problems.add("filters.calendar_ids", "required", "must name at least one calendar")
        else:
            unknown = [c for c in wanted if c not in calendar_ids]
            if unknown:
                problems.add(
                    "filters.calendar_ids", "not_found", f"not calendars of this account: {', '.join(unknown)}"
                )

    if problems.errors:
        return None, problems.errors
    assert isinstance(callback_url, str)
    return (
        ChannelRequest(
            callback_url=callback_url,
            calendar_ids=None if wanted is None else tuple(dict.fromkeys(wanted)),
            only_managed=only_managed,
        ),
        {},
    )


def too_many_channels_errors(limit: int) -> Errors:
    problems = Problems()
    problems.add("channels", "too_many_channels", f"an account may have at most {limit} open channels")
    return problems.errors


def _is_web_url(url: str) -> bool:
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
