"""The one error the shipper reports to a person: the message names the file or setting and says why."""

from kos.errors import KosError

__all__ = ["ShipperError"]


class ShipperError(KosError):
    """A watched file, its checkpoint or a shipper setting cannot be used; the message says which and why."""
