"""End-to-end tests: the API as a client meets it, over HTTP on 127.0.0.1 with the sandbox behind it,
and the gql-api commands run as subprocesses."""
