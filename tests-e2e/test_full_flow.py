"""The whole system as processes: the walk `make run` shows, asserted.

An invoice is paid through the emulator's checkout, the signed webhook crosses the ingress and
the processor, two refunds go through the refund-worker and Cashfree, and the email-worker
sends the emails to the SMTP sink."""

from pathlib import Path

import httpx
from demo import walk
from e2e_support import (
    EMULATOR,
    SERVICES,
    SMTP_SINK,
    ServiceProcess,
    start_system,
    system_env,
    system_ports,
)


def test_invoice_paid_then_refunded_in_two_parts(
    tmp_path: Path, service_runner: list[ServiceProcess]
) -> None:
    ports = system_ports()
    env = system_env(ports, REFUND_POLL_AFTER_SECONDS="2", REFUND_POLL_INTERVAL_SECONDS="0.5")
    system = start_system(env, ports, tmp_path, service_runner)
    emulator, sink = system[EMULATOR], system[SMTP_SINK]

    result = walk(
        {
            **env,
            "API_URL": f"http://127.0.0.1:{ports['payments-api']}/api/v1",
            "EMULATOR_URL": emulator.url,
            "INBOX_URL": f"{sink.url}/messages",
        }
    )

    assert result["payment"]["status"] == "REFUNDED"
    assert result["invoice"]["status"] == "REFUNDED"
    subjects = [message["subject"] for message in result["emails"]]
    assert sum("refund" in subject.lower() for subject in subjects) == 2, subjects
    assert any(
        "payment" in subject.lower() and "refund" not in subject.lower() for subject in subjects
    ), subjects
    # The invoice email carries the customer's pay link, and the API honours its token.
    [invoice_mail] = [m for m in result["emails"] if m["subject"].startswith("Invoice ")]
    text = httpx.get(f"{sink.url}/messages/{invoice_mail['id']}", timeout=10).json()["text"]
    link = text.split("Pay this invoice: ")[1].split()[0]
    assert link.startswith(env["INVOICE_PAY_URL"].removesuffix("{pay_token}"))
    token = link.rsplit("/", 1)[1]
    api = f"http://127.0.0.1:{ports['payments-api']}/api/v1"
    view = httpx.get(f"{api}/pay-links/{token}", timeout=10).json()["data"]
    assert view["invoice"]["invoice_number"] == result["invoice"]["invoice_number"]
    assert view["invoice"]["status"] == "REFUNDED"
    for process in reversed(service_runner):
        if process.name in SERVICES:
            assert process.stop() == 0, process.log.read_text()[-2000:]
