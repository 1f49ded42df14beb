"""The one error the shipper reports to a person: the message names the file or setting and says why."""


class ShipperError(RuntimeError):
    """A watched file, its checkpoint or a shipper setting cannot be used; the message says which and why."""
