"""Errors that carry a message meant for the user, not a traceback."""


class StudyError(Exception):
    """A problem the user can fix (bad input, bad config); shown as one line."""


class DataError(StudyError):
    """An input data file is missing, corrupt or malformed."""
