"""OCI-style API errors: JSON {"code", "message"} with the documented status codes."""

from typing import Dict, Optional


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: Optional[Dict[str, str]] = None
    ) -> None:
        super().__init__("{} {}: {}".format(status, code, message))
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


NOT_FOUND_MSG = "Authorization failed or requested resource not found."
AUTH_MSG = "The required information to complete authentication was not provided or was incorrect."


def not_found(what: Optional[str] = None) -> ApiError:
    msg = NOT_FOUND_MSG if what is None else "{} not found or not authorized.".format(what)
    return ApiError(404, "NotAuthorizedOrNotFound", msg)


def not_authenticated(detail: Optional[str] = None) -> ApiError:
    return ApiError(401, "NotAuthenticated", AUTH_MSG if detail is None else detail)


def related_not_found(kind: str, ocid: str) -> ApiError:
    """A resource named in the request body that does not exist or may not be used:
    400, not 404 (OCI API errors page: RelatedResourceNotAuthorizedOrNotFound,
    "A resource specified in the body of the request was not found, or you do
    not have authorization to access that resource")."""
    return ApiError(
        400,
        "RelatedResourceNotAuthorizedOrNotFound",
        "Either {} with ID {} does not exist or you are not authorized to access it.".format(
            kind, ocid
        ),
    )


def invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def missing(message: str) -> ApiError:
    return ApiError(400, "MissingParameter", message)


def conflict(message: str) -> ApiError:
    return ApiError(409, "Conflict", message)


def incorrect_state(message: str) -> ApiError:
    return ApiError(409, "IncorrectState", message)


def etag_mismatch() -> ApiError:
    return ApiError(
        412, "NoEtagMatch", "The resource's etag does not match the value of the if-match header."
    )
