"""Linking and unlinking calendar accounts (the OAuth flow of security.md §2.2)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from ..cronofy.budget import Priority, Purpose, spending
from ..cronofy.errors import CronofyError, InvalidGrant
from ..cronofy.models import LINK_SCOPES, CronofyCalendar, TokenGrant
from ..domain.authorization import check_calendar_integration
from ..domain.changes import ConnectionChangeKind, connection_change, link_kind
from ..domain.connections import (
    AuthorizationRequest,
    CalendarConnection,
    CalendarProvider,
    Credential,
    TargetCalendar,
)
from ..domain.errors import ErrorCode, UserFacingError
from ..domain.identity import User
from ..domain.time import Clock
from .live import SILENT, Announcer
from .ports import CalendarGateway, ConnectionRepository, LinkStateRepository, MeetingRepository
from .push_channels import PushChannels
from .revocations import Revocations

log = logging.getLogger(__name__)

MAX_CODE_LENGTH = 2048
MAX_STATE_LENGTH = 256
CHANNEL_GRACE_SECONDS = 2.0
UPSTREAM_MESSAGE = "The calendar service is unavailable right now; please try again in a moment."
INVALID_STATE = "This link request is unknown, expired or already used; please start linking again."
WIDER_SCOPES = (
    "The calendar access granted is wider than this platform asks for, so it was not kept; please link the "
    "calendar again from the app without changing the request."
)


class Linking:
    def __init__(
        self,
        *,
        connections: ConnectionRepository,
        link_states: LinkStateRepository,
        meetings: MeetingRepository,
        channels: PushChannels,
        gateway: CalendarGateway,
        revocations: Revocations,
        allowed_redirect_uris: Sequence[str],
        data_center: str,
        state_ttl: timedelta,
        clock: Clock,
        announce: Announcer = SILENT,
    ) -> None:
        self._connections = connections
        self._link_states = link_states
        self._meetings = meetings
        self._channels = channels
        self._gateway = gateway
        self._revocations = revocations
        self._allowed_redirect_uris = frozenset(allowed_redirect_uris)
        self._data_center = data_center
        self._state_ttl = state_ttl
        self._clock = clock
        self._announce = announce

    async def connections(self, user: User) -> list[CalendarConnection]:
        return await self._connections.list_for_user(user.id)

    async def connection(self, user: User, connection_id: str) -> CalendarConnection | None:
        return await self._connections.get_for_user(user.id, connection_id)

    async def begin(self, user: User, *, redirect_uri: str, provider: CalendarProvider | None) -> AuthorizationRequest:
        check_calendar_integration(user)
        if redirect_uri not in self._allowed_redirect_uris:  # exact match: no prefixes, no open redirects
            raise UserFacingError(ErrorCode.INVALID_REDIRECT_URI, "This redirect URI is not allowed.", ["redirect_uri"])
        now = self._clock()
        expires_at = now + self._state_ttl
        state = await self._link_states.create(
            user_id=user.id, redirect_uri=redirect_uri, data_center=self._data_center, now=now, expires_at=expires_at
        )
        url = self._gateway.authorization_url(
            redirect_uri=redirect_uri,
            state=state,
            data_center=self._data_center,
            provider_name=provider.value if provider and provider is not CalendarProvider.OTHER else None,
        )
        return AuthorizationRequest(authorization_url=url, expires_at=expires_at)

    async def link(self, user: User, *, code: str, state: str) -> CalendarConnection:
        """Its Cronofy calls (and the channel it opens) are user-facing, charged to the user."""
        check_calendar_integration(user)
        with spending(Purpose.LINKING, Priority.USER, user.id):
            return await self._link(user, code=code, state=state)

    async def _link(self, user: User, *, code: str, state: str) -> CalendarConnection:
        if not code.strip() or len(code) > MAX_CODE_LENGTH:
            raise UserFacingError(ErrorCode.INVALID_INPUT, "The authorization code is missing or malformed.", ["code"])
        if not state.strip() or len(state) > MAX_STATE_LENGTH:
            raise UserFacingError(ErrorCode.INVALID_STATE, INVALID_STATE, ["state"])
        link_state = await self._link_states.consume(state, user_id=user.id, now=self._clock())
        if link_state is None:
            raise UserFacingError(ErrorCode.INVALID_STATE, INVALID_STATE, ["state"])

        try:
            grant = await self._gateway.exchange_code(
                code=code, redirect_uri=link_state.redirect_uri, data_center=link_state.data_center
            )
        except InvalidGrant:
            raise UserFacingError(
                ErrorCode.AUTHORIZATION_REJECTED,
                "Cronofy did not accept this authorization; please link the calendar again.",
                ["code"],
            ) from None
        except CronofyError as exc:
            log.warning("code exchange failed: %s", exc)
            raise UserFacingError(ErrorCode.UPSTREAM_UNAVAILABLE, UPSTREAM_MESSAGE) from None
        try:
            sub, calendars = await self._accept(user, grant, link_state.data_center)
        except UserFacingError:
            await self._abandon(user, grant, link_state.data_center)
            raise

        now = self._clock()
        target = pick_target_calendar(calendars)
        replaced = await self._connections.refresh_token_of_account(user.id, sub)
        connection = await self._connections.save_link(
            user_id=user.id,
            sub=sub,
            provider=CalendarProvider.from_cronofy(_profile(grant, "provider_name")),
            profile_name=_profile(grant, "profile_name") or (target.profile_name if target else None) or "",
            scopes=grant.scope,
            calendar=TargetCalendar(target.calendar_id, target.name, target.primary) if target else None,
            data_center=link_state.data_center,
            credential=Credential(grant.access_token, grant.refresh_token, grant.expires_at(now)),
            now=now,
        )
        if replaced is not None and replaced != grant.refresh_token:
            # A relink replaced a grant we will never use again: it must not stay alive at Cronofy.
            await self._revocations.attempt_soon(
                await self._revocations.record(
                    refresh_token=replaced, data_center=link_state.data_center, user_id=user.id
                )
            )
        if connection.channel_id is None:
            await self._channels.open_soon(connection, grace=CHANNEL_GRACE_SECONDS)
        # Copies that failed while the calendar needed relinking are written now (DESIGN.md §7).
        await self._meetings.retry_failed_on(connection.id, now=now)
        await self._announce(connection_change(link_kind(connection, now), connection.id, user.id))
        log.info("user %s linked calendar connection %s", user.id, connection.id)
        return await self._connections.get_for_user(user.id, connection.id) or connection

    async def _accept(self, user: User, grant: TokenGrant, data_center: str) -> tuple[str, list[CronofyCalendar]]:
        """Whether a grant Cronofy handed over may be stored; its account and calendars if so."""
        if not grant.sub:
            log.error("Cronofy's token response carried no sub; the link cannot be stored")
            raise UserFacingError(ErrorCode.UPSTREAM_UNAVAILABLE, UPSTREAM_MESSAGE)
        wider = sorted(set(grant.scope) - set(LINK_SCOPES))
        if wider:  # the authorization URL was edited: we store no more access than we ask for (DESIGN §1.3)
            log.warning("a link granted scopes beyond what we ask for (%s); refused and revoked", " ".join(wider))
            raise UserFacingError(ErrorCode.NOT_ALLOWED, WIDER_SCOPES, ["code"])
        if await self._connections.sub_linked_by_another_user(grant.sub, user.id):
            # Cronofy shares one credential per account: two owners would revoke each other on unlink.
            raise UserFacingError(
                ErrorCode.NOT_ALLOWED, "This calendar account is already linked to another user of the platform."
            )
        try:
            return grant.sub, await self._gateway.list_calendars(
                access_token=grant.access_token, data_center=data_center
            )
        except CronofyError as exc:
            log.warning("listing calendars after the code exchange failed: %s", exc)
            raise UserFacingError(ErrorCode.UPSTREAM_UNAVAILABLE, UPSTREAM_MESSAGE) from None

    async def _abandon(self, user: User, grant: TokenGrant, data_center: str) -> None:
        """A grant that will not be stored must not stay alive at Cronofy: revoke it, durably, unless a
        stored connection holds that account. Then it is left alone: Cronofy may hand back the very
        credential an authorized account already has, and revoking it would end that connection too."""
        if grant.sub and await self._connections.grants_of_account(grant.sub):
            return
        await self._revocations.attempt_soon(
            await self._revocations.record(refresh_token=grant.refresh_token, data_center=data_center, user_id=user.id)
        )

    async def unlink(self, user: User, connection_id: str) -> str:
        with spending(Purpose.LINKING, Priority.USER, user.id):
            return await self._unlink(user, connection_id)

    async def _unlink(self, user: User, connection_id: str) -> str:
        connection = await self._connections.get_for_user(user.id, connection_id)
        if connection is None:
            raise UserFacingError(ErrorCode.NOT_FOUND, "No such calendar connection.", ["connection_id"])
        # Order matters: owe the revocation durably, then forget the credential, then try to pay.
        # By sub as well: that also ends a grant that a concurrent refresh may just have rotated.
        revocation = await self._revocations.record(
            refresh_token=await self._connections.refresh_token_of(connection.id),
            sub=connection.sub,
            data_center=connection.data_center,
            user_id=user.id,
        )
        await self._channels.close(connection)
        await self._connections.delete_for_user(user.id, connection.id)
        await self._revocations.attempt_soon(revocation)
        await self._announce(connection_change(ConnectionChangeKind.UNLINKED, connection.id, user.id))
        log.info("user %s unlinked calendar connection %s", user.id, connection.id)
        return connection.id


def pick_target_calendar(calendars: Sequence[CronofyCalendar]) -> CronofyCalendar | None:
    """Meetings go to the primary writable calendar, else the first writable one."""
    writable = [calendar for calendar in calendars if calendar.writable]
    return next((calendar for calendar in writable if calendar.primary), writable[0] if writable else None)


def _profile(grant: TokenGrant, attribute: str) -> str | None:
    value = getattr(grant.linking_profile, attribute) if grant.linking_profile else None
    return value if isinstance(value, str) else None
