"""The one error the protobuf functions raise: what they cannot work with, named."""

from __future__ import annotations

__all__ = ["ProtobufError"]


class ProtobufError(ValueError):
    """A descriptor set, message, option or column that the protobuf functions cannot work with; the message
    names the message and the field."""
