"""Domain errors. Each protocol turns them into its own error envelope."""

from __future__ import annotations


class HubError(Exception):
    """Base class; `message` is safe to show to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(HubError):
    """The input breaks a rule (OCPI 2001)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class NotFound(HubError):
    """No such object, or none the caller may see (a party never learns what it may not read)."""


class UnknownLocation(NotFound):
    """OCPI 2003."""


class UnknownToken(NotFound):
    """OCPI 2004."""


class UnknownSession(NotFound):
    """No such Session, or one the caller may not act on."""


class Exists(HubError):
    """A create of an object that is there already."""


class Conflict(HubError):
    """The object's state does not allow this change."""


class NotPermitted(HubError):
    """The caller may not do this to that object (a command on another eMSP's session): the command is REJECTED."""


class NotOwner(HubError):
    """The caller writes an object of a party it does not represent."""


class UnknownReceiver(HubError):
    """OCPI 4001: nobody by that address."""


class ReceiverOffline(HubError):
    """OCPI 4003: the receiver is known but not connected."""


class ReceiverTimeout(HubError):
    """OCPI 4002: the receiver did not answer in time."""


class NotRegistered(HubError):
    """Credentials PUT/DELETE before registration (HTTP 405)."""


class AlreadyRegistered(HubError):
    """Credentials POST after registration (HTTP 405)."""
