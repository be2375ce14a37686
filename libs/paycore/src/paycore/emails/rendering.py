"""Templates (Jinja2, in `templates/`): an HTML and a plain-text part per kind, one subject."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from paycore.emails.formatting import format_amount
from paycore.emails.models import EmailKind

SUBJECTS: Final[dict[EmailKind, str]] = {
    EmailKind.PAYMENT_SUCCESS: "Payment received: {{ amount | money(currency) }}",
    EmailKind.PAYMENT_FAILED: "Payment failed: {{ amount | money(currency) }}",
    EmailKind.PAYMENT_REFUND: (
        "{% if succeeded %}Refund processed{% else %}Refund not completed{% endif %}:"
        " {{ amount | money(currency) }}"
    ),
    EmailKind.INVOICE_GENERATED: (
        "Invoice {{ invoice.invoice_number }}: {{ invoice.total | money(invoice.currency) }}"
        " due {{ invoice.due_date }}"
    ),
    EmailKind.ADMIN_ALERT: "[{{ brand }} {{ severity | upper }}] {{ alert }}",
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("paycore.emails", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        # A missing value is a bug in the producer or here: fail loudly, never send "None".
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["money"] = format_amount
    return environment


_ENVIRONMENT: Final = _environment()


def render(kind: EmailKind, context: dict[str, Any]) -> RenderedEmail:
    subject = _ENVIRONMENT.from_string(SUBJECTS[kind]).render(context)
    values = {**context, "subject": subject}
    return RenderedEmail(
        subject=" ".join(subject.split()),  # a header: one line
        text=_ENVIRONMENT.get_template(f"{kind.value}.txt.j2").render(values),
        html=_ENVIRONMENT.get_template(f"{kind.value}.html.j2").render(values),
    )
