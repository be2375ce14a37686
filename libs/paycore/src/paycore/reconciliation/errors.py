"""What a reconciliation operation refuses (status, stable code; the docstring is the message)."""

from paycore.kit.errors import Conflict, NotFound


class ReconciliationItemNotFound(NotFound, code="reconciliation_item_not_found"):
    """No such reconciliation item."""


class ReconciliationItemNotOpen(Conflict, code="reconciliation_item_not_open"):
    """The item is not open (healed, closed by a run, or resolved already)."""
