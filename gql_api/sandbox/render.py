"""The records of `model.py` in the JSON shapes Cronofy answers with, and as the control API lists them.

Pure functions: one place to compare with reference/cronofy.md when a field is added or renamed,
and no JSON shape in the records or the state's parts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .model import Account, Attendee, Calendar, Channel, Event, IssuedToken, Notification, Push
from .times import DEFAULT_TZID, format_time, timestamp_to_time


def time_json(seconds: float) -> str:
    """A sandbox clock reading as a Cronofy Time."""
    return format_time(timestamp_to_time(seconds))


# -- identity and calendars -----------------------------------------------------------------


def linking_profile_json(account: Account) -> dict[str, str]:
    return {
        "provider_name": account.provider_name,
        "profile_id": account.profile_id,
        "profile_name": account.profile_name,
    }


def calendar_json(account: Account, calendar: Calendar) -> dict[str, Any]:
    """A calendar as Cronofy's `GET /v1/calendars` shows it."""
    return {
        **linking_profile_json(account),
        "calendar_id": calendar.calendar_id,
        "calendar_name": calendar.name,
        "calendar_readonly": calendar.readonly,
        "calendar_deleted": calendar.deleted,
        "calendar_primary": calendar.primary,
        "calendar_integrated_conferencing_available": calendar.integrated_conferencing_available,
        "calendar_attachments_available": calendar.attachments_available,
        "permission_level": calendar.permission_level,
    }


def calendars_json(account: Account) -> list[dict[str, Any]]:
    return [calendar_json(account, calendar) for calendar in account.calendars]


def profile_json(account: Account, relink_url: str) -> dict[str, Any]:
    """The account's profile as `GET /v1/profiles` shows it (§4.2)."""
    shown: dict[str, Any] = {
        "provider_name": account.provider_name,
        "provider_service": account.provider_service,
        "profile_id": account.profile_id,
        "profile_name": account.profile_name,
        "profile_connected": account.connected,
        "profile_initial_sync_required": False,
    }
    if not account.connected:
        shown["profile_relink_url"] = relink_url
    return shown


def userinfo_json(account: Account, scope: str, relink_url: str) -> dict[str, Any]:
    """`GET /v1/userinfo` (§4.3): the profile with its calendars."""
    profile_fields = linking_profile_json(account)
    calendars = [
        {name: value for name, value in calendar_json(account, calendar).items() if name not in profile_fields}
        for calendar in account.calendars
    ]
    return {
        "sub": account.sub,
        "email": account.profile_name,
        "name": None,
        "zoneinfo": DEFAULT_TZID,
        "cronofy.type": "account",
        "cronofy.data": {
            "authorization": {"scope": scope, "status": "active"},
            "profiles": [{**profile_json(account, relink_url), "profile_calendars": calendars}],
            "conferencing_profiles": [],
        },
    }


# -- events -------------------------------------------------------------------------------


def attendee_json(attendee: Attendee) -> dict[str, Any]:
    return {"email": attendee.email, "display_name": attendee.display_name, "status": attendee.status}


def event_json(account: Account, event: Event) -> dict[str, Any]:
    """An event as Cronofy's `GET /v1/events` shows it (§6.5)."""
    shown: dict[str, Any] = {"calendar_id": event.calendar_id, "event_uid": event.event_uid}
    if event.managed:
        shown["event_id"] = event.event_id
    shown.update(
        {
            "summary": event.summary,
            "description": event.description,
            "start": event.start.to_json(),
            "end": event.end.to_json(),
            "deleted": event.deleted,
            "created": time_json(event.created),
            "updated": time_json(event.updated),
        }
    )
    if event.location:
        shown["location"] = dict(event.location)
    shown.update(
        {
            "participation_status": event.participation_status,
            "attendees": [attendee_json(attendee) for attendee in event.attendees],
            "organizer": {"email": account.profile_name},
            "transparency": event.transparency,
            "status": "cancelled" if event.deleted else "confirmed",
            "categories": [],
            "recurring": False,
            "event_private": False,
            # Calendars have `sandbox` permission: the app may change only what it created.
            "options": {
                "delete": event.managed,
                "update": event.managed,
                "change_participation_status": False,
            },
        }
    )
    return shown


def control_event_json(account: Account, event: Event) -> dict[str, Any]:
    """An event as the control API lists it: everything the sandbox knows."""
    return {
        "sub": account.sub,
        "calendar_id": event.calendar_id,
        "event_id": event.event_id,
        "event_uid": event.event_uid,
        "summary": event.summary,
        "description": event.description,
        "start": event.start.to_json(),
        "end": event.end.to_json(),
        "tzid": event.tzid,
        "location": dict(event.location) or None,
        "attendees": [attendee_json(attendee) for attendee in event.attendees],
        "deleted": event.deleted,
        "managed": event.managed,
        "last_written_by": event.last_written_by,
        "created": time_json(event.created),
        "updated": time_json(event.updated),
    }


def control_events_json(
    accounts: Iterable[Account], *, sub: str | None = None, calendar_id: str | None = None
) -> list[dict[str, Any]]:
    """Every calendar's events as the control API shows them, optionally narrowed."""
    return [
        control_event_json(account, event)
        for account in accounts
        if sub is None or account.sub == sub
        for event in account.events()
        if calendar_id is None or event.calendar_id == calendar_id
    ]


# -- channels and pushes --------------------------------------------------------------------


def channel_json(channel: Channel) -> dict[str, Any]:
    # Cronofy echoes only the filters that differ from the defaults.
    filters: dict[str, Any] = {}
    if channel.calendar_ids is not None:
        filters["calendar_ids"] = list(channel.calendar_ids)
    if channel.only_managed:
        filters["only_managed"] = True
    return {"channel_id": channel.channel_id, "callback_url": channel.callback_url, "filters": filters}


def notification_json(notification: Notification) -> dict[str, str]:
    shown = {"type": notification.type}
    if notification.changes_since is not None:
        shown["changes_since"] = notification.changes_since
    return shown


def push_json(push: Push) -> dict[str, Any]:
    """A push notification's body: `notification` then `channel`, as Cronofy sends it."""
    return {"notification": notification_json(push.notification), "channel": channel_json(push.channel)}


# -- the control API's snapshot ------------------------------------------------------------


def account_snapshot_json(account: Account, channels: Iterable[Channel]) -> dict[str, Any]:
    return {
        "sub": account.sub,
        **linking_profile_json(account),
        "profile_connected": account.connected,
        "calendars": calendars_json(account),
        "events": [control_event_json(account, event) for event in account.events()],
        "channels": [channel_json(channel) for channel in channels],
    }


def token_snapshot_json(issued: IssuedToken, now: float) -> dict[str, Any]:
    return {
        "sub": issued.sub,
        "kind": issued.kind,
        "token": issued.token,
        "status": issued.status_at(now),
        "scope": issued.scope_string,
        "issued_at": issued.issued_at,
        "expires_at": issued.expires_at,
    }
