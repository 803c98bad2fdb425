"""Expected failures name the field at fault by its domain path; the GraphQL layer alone turns that path
into the client's (gql_api/domain/errors.py)."""

from gql_api.domain.errors import ErrorCode, InvalidInput, UserFacingError, invalid


def test_a_field_given_by_name_is_a_path_of_one():
    error = invalid("title", "The title needs 1 to 1024 characters.")

    assert (error.code, error.field, error.message) == (
        ErrorCode.INVALID_INPUT,
        ("title",),
        "The title needs 1 to 1024 characters.",
    )


def test_a_nested_field_keeps_its_whole_path():
    assert invalid(("participants", 2, "email"), "This is not an e-mail address.").field == ("participants", 2, "email")


def test_an_error_about_no_field_in_particular_has_no_path():
    assert UserFacingError(ErrorCode.NOT_FOUND, "No such meeting.").field is None
    assert UserFacingError(ErrorCode.NOT_FOUND, "No such meeting.", []).field is None


def test_a_single_error_stands_for_itself():
    error = invalid("title", "The title needs 1 to 1024 characters.")

    assert error.errors == (error,)


def test_an_invalid_input_stands_for_every_fault_and_reads_as_its_first():
    faults = [
        invalid("title", "The title needs 1 to 1024 characters."),
        invalid("time_zone", "Use an IANA time zone such as Europe/London.", ErrorCode.INVALID_TIME_ZONE),
    ]

    error = InvalidInput(faults)

    assert error.errors == tuple(faults)
    assert (error.code, error.field, str(error)) == (ErrorCode.INVALID_INPUT, ("title",), faults[0].message)
