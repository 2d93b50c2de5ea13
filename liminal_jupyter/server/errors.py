"""Errors as the REST contract words them: `{"message": "...", ...}` with an HTTP status."""

from __future__ import annotations

from typing import Any

from tornado.web import HTTPError


class ApiError(HTTPError):
    """An HTTP error whose JSON body is `{"message": message, **extra}`.

    The message goes to tornado's log as an argument, never as the format string, so a
    '%' in a user's value cannot break the log line.
    """

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(status, "%s", message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"message": self.message, **self.extra}
