from paycore.kit.errors import NotFound


class RefundNotFound(NotFound):
    """No such refund."""

    code = "refund_not_found"
