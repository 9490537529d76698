"""Checking client events as the real API does: an invalid one gets an `invalid_request_error`."""

from __future__ import annotations

from typing import Any

NOISE_REDUCTION_TYPES = ("near_field", "far_field")


class InvalidRequest(Exception):
    """A client event the real API would answer with an `invalid_request_error`."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


def as_object(value: object, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidRequest("invalid_type", f"Invalid type for '{param}': expected an object.", param)
    return value


def reject_unknown(value: dict[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
    for key in value:
        if key not in allowed:
            param = f"{prefix}.{key}"
            raise InvalidRequest("unknown_parameter", f"Unknown parameter: '{param}'.", param)
