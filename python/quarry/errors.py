"""Quarry's exceptions. Each also derives from the matching built-in, so `except
FileNotFoundError` catches a missing object just as it catches a missing local file."""

import concurrent.futures


class QuarryError(Exception):
    """Base of every error Quarry raises."""


class NotFound(QuarryError, FileNotFoundError):
    """A bucket, key, prefix or file does not exist, or an input matched nothing."""


class PermissionDenied(QuarryError, PermissionError):
    """Credentials were rejected or lack the rights."""


class InvalidArgument(QuarryError, ValueError):
    """Bad input: a malformed URI, an unknown option, a separator that cannot work."""


class Unavailable(QuarryError, ConnectionError):
    """The endpoint could not be reached or kept failing after retries."""


class PreconditionFailed(QuarryError):
    """The object changed while a job was reading it."""


class Cancelled(QuarryError, concurrent.futures.CancelledError):
    """The job was cancelled (job.cancel(), or Ctrl-C while waiting for it)."""


class TaskError(QuarryError):
    """The user's function failed on a partition.

    `uri` and `part` name the partition; `remote_traceback` is the original traceback text;
    `cause` is the original exception when it could be carried back."""

    def __init__(self, uri, part, message, remote_traceback="", cause=None):
        super().__init__(f"task failed on {uri} part {part}: {message}\n{remote_traceback}".rstrip())
        self.uri = uri
        self.part = part
        self.message = message
        self.remote_traceback = remote_traceback
        self.cause = cause

    def __reduce__(self):
        return (TaskError, (self.uri, self.part, self.message, self.remote_traceback, self.cause))
