"""Privacy: erasing a user and exporting a user's data (the platform's service token), and a user's own data."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from gql_api.domain.errors import BadArgument, UserFacingError
from gql_api.graphql.context import Info
from gql_api.graphql.errors import UserErrors, bad_argument, query_error
from gql_api.graphql.types.privacy import EraseUserInput, EraseUserPayload
from gql_api.graphql.user_data import receipt_json, user_data_json


# strawberry.field(...) and strawberry.mutation(...) as decorator factories are typed as returning Any (those
# overloads describe dataclass-style fields), hence `type: ignore[untyped-decorator]` on each resolver below.
@strawberry.type
class PrivacyQuery:
    @strawberry.field(  # type: ignore[untyped-decorator]
        description='Everything held about a user, as one JSON document (README: "Your users\' data"). Only for '
        "the platform's service token (the AUTH_ADMIN_ROLE role); others get a NOT_ALLOWED error."
    )
    async def export_user_data(self, info: Info, user_id: strawberry.ID) -> JSON:
        try:
            data = await info.context.services.exports.export_for(info.context.viewer, user_id)
        except UserFacingError as error:
            raise query_error(error) from None
        except BadArgument as error:
            raise bad_argument(error) from None
        return JSON(user_data_json(data))

    @strawberry.field(description="Everything held about the signed-in user, as one JSON document.")  # type: ignore[untyped-decorator]
    async def my_data(self, info: Info) -> JSON:
        return JSON(user_data_json(await info.context.services.exports.mine(info.context.viewer)))


@strawberry.type
class PrivacyMutation:
    @strawberry.mutation(  # type: ignore[untyped-decorator]
        description="Erases a user who left the platform: their meetings are cancelled or they are taken out of "
        "them, their calendars revoked, their data deleted. Idempotent; only for the platform's service token.",
        extensions=[UserErrors()],
    )
    async def erase_user(self, info: Info, input: EraseUserInput) -> EraseUserPayload:
        erasure = await info.context.services.erasures.erase_for(info.context.viewer, input.user_id)
        return EraseUserPayload(receipt=JSON(receipt_json(erasure)))
