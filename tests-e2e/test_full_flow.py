"""The whole system as processes: the walk `make run` shows, asserted.

An invoice is paid through the emulator's checkout, the signed webhook crosses the ingress and
the processor, two refunds go through the refund-worker and Cashfree, and the email-worker
sends the emails to the SMTP sink."""

from pathlib import Path

import httpx
from demo import walk
from e2e_support import SERVICES, ServiceProcess, free_port, isolated_env, start_service


def test_invoice_paid_then_refunded_in_two_parts(
    tmp_path: Path, service_runner: list[ServiceProcess]
) -> None:
    ports = {name: free_port() for name in [*SERVICES, "emulator", "smtp", "inbox"]}
    ingress = f"http://127.0.0.1:{ports['webhook-ingress']}/api/v1/webhooks/cashfree"
    env = isolated_env(
        CASHFREE_BASE_URL=f"http://127.0.0.1:{ports['emulator']}/pg",
        CHECKOUT_BASE_URL=f"http://127.0.0.1:{ports['emulator']}/checkout/",
        SMTP_URL=f"smtp://127.0.0.1:{ports['smtp']}",
        REFUND_POLL_AFTER_SECONDS="2",
        REFUND_POLL_INTERVAL_SECONDS="0.5",
    )
    emulator = start_service(
        "cashfree-emulator",
        env,
        tmp_path,
        ports["emulator"],
        module="cashfree_emulator",
        args=(
            "--port",
            str(ports["emulator"]),
            "--refund-delay-seconds",
            "0.3",
            "--webhook-urls",
            ingress,
        ),
        health="/_emulator/health",
    )
    sink = start_service(
        "smtp-sink",
        env,
        tmp_path,
        ports["inbox"],
        module="smtp_sink",
        args=("--port", str(ports["smtp"]), "--http-port", str(ports["inbox"])),
    )
    service_runner.extend([emulator, sink])
    for name in SERVICES:
        service_runner.append(start_service(name, env, tmp_path, ports[name]))
    for process in service_runner:
        process.wait_healthy(timeout=60)

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
