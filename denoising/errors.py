"""The one error type that a user can fix: bad params, a missing folder, an unreadable file."""


class UserError(Exception):
    """A problem in the user's params or data, reported as one line per problem, no traceback."""
