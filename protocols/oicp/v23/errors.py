"""OICP StatusCode <-> the hub's errors, as tables. Pure. Apart from wire.py and mapping.py because it imports
hub.services.errors, and those two know only the canonical model (tests/test_architecture.py).

An inbound OICP call the hub refuses answers with the StatusCode of the hub's error; an answer from Hubject with
a refusing StatusCode becomes the hub's error for the core.
"""

from __future__ import annotations

from hub.services import errors
from protocols.oicp.v23 import wire

# the hub's error -> the StatusCode it is answered with; a subclass not listed takes its nearest listed base
CODE_OF_ERROR: dict[type[errors.HubError], str] = {
    errors.HubError: "021",  # System error
    errors.Invalid: "022",  # Data error
    errors.NotFound: "022",
    errors.UnknownLocation: "603",  # Unknown EVSE ID
    errors.UnknownToken: "102",  # RFID Authentication failed - invalid UID (105 for a contract: `status_code`)
    errors.UnknownSession: "400",  # Session is invalid
    errors.Exists: "022",
    errors.Conflict: "602",  # EVSE already in use / wrong token
    errors.NotPermitted: "210",  # No valid contract
    errors.NotOwner: "018",  # Inconsistent EvseID: not the caller's
    errors.UnknownReceiver: "300",  # Partner not found
    errors.ReceiverTimeout: "310",  # Partner did not respond
    errors.ReceiverOffline: "320",  # Service not available
}

# StatusCode -> the hub's error it stands for; 000 is no error, an unknown code a HubError
ERROR_OF_CODE: dict[str, type[errors.HubError]] = {
    "001": errors.HubError, "002": errors.HubError, "009": errors.HubError, "021": errors.HubError,
    "017": errors.NotPermitted,  # the OperatorID/ProviderID is not the client certificate's
    "018": errors.NotOwner, "019": errors.NotOwner,  # an EvseID/EvcoID of another operator/provider
    "022": errors.Invalid,
    "101": errors.UnknownToken, "102": errors.UnknownToken, "103": errors.UnknownToken, "105": errors.UnknownToken,
    "106": errors.UnknownToken, "120": errors.UnknownToken, "121": errors.UnknownToken,
    "110": errors.ReceiverTimeout, "122": errors.ReceiverTimeout,  # the app or the vehicle did not answer in time
    "200": errors.NotPermitted, "210": errors.NotPermitted,  # EvcoID locked, no valid contract
    "300": errors.UnknownReceiver, "310": errors.ReceiverTimeout, "320": errors.ReceiverOffline,
    "400": errors.UnknownSession,
    "501": errors.ReceiverOffline,  # the EVSE could not be reached
    "510": errors.Conflict, "601": errors.Conflict, "602": errors.Conflict, "700": errors.Conflict,  # not in a state to
    "603": errors.UnknownLocation,
    "604": errors.NotPermitted,  # not Hubject compatible: no remote start/stop there
}

_CONTRACT_MEDIA = ("qr_code_identification", "plug_and_charge_identification", "remote_identification")


def code_of(error: errors.HubError, identification: wire.Identification | None = None) -> str:
    """The StatusCode of an error. An unknown token is 102 for a card, 105 for a contract (EvcoID)."""
    if isinstance(error, errors.UnknownToken) and identification is not None:
        if any(getattr(identification, m) is not None for m in _CONTRACT_MEDIA):
            return "105"
    for kind in type(error).__mro__:
        if kind in CODE_OF_ERROR:
            return CODE_OF_ERROR[kind]
    return "021"


def status_code(error: errors.HubError, identification: wire.Identification | None = None) -> wire.StatusCode:
    """The StatusCode to answer an error with: Hubject's description, the error's message as AdditionalInfo."""
    code = code_of(error, identification)
    return wire.StatusCode(code=code, description=wire.STATUS_CODES.get(code), additional_info=error.message[:1000] or None)


def error_of(status: wire.StatusCode) -> errors.HubError | None:
    """The hub's error for a StatusCode, None for 000 (success)."""
    if status.code == "000":
        return None
    kind = ERROR_OF_CODE.get(status.code, errors.HubError)
    text = " - ".join(t for t in (status.code, status.description or wire.STATUS_CODES.get(status.code), status.additional_info) if t)
    return kind(text)
