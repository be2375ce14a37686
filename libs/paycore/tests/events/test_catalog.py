"""Every event has a payload model, checked when written; the AsyncAPI document lists them all
and the committed copy is the one the models generate."""

import json

import pytest
from paycore.events import asyncapi
from paycore.events.catalog import EVENTS
from paycore.events.payloads import WebhookFailure, WebhookReceived
from paycore.kit.events import OutboxEvent, exchange_for
from pydantic import ValidationError


def test_the_committed_asyncapi_document_is_the_generated_one() -> None:
    committed = asyncapi.DOCUMENT.read_text()
    assert committed == asyncapi.rendered(), (
        "docs/asyncapi.json is stale: run `uv run python -m paycore.events.asyncapi --write`"
    )


def test_the_asyncapi_document_lists_every_routing_key_with_its_payload() -> None:
    document = json.loads(asyncapi.DOCUMENT.read_text())
    schemas = document["components"]["schemas"]
    messages = document["components"]["messages"]
    assert set(document["channels"]) == set(EVENTS)
    for routing_key, model in EVENTS.items():
        channel = document["channels"][routing_key]
        exchange = channel["bindings"]["amqp"]["exchange"]
        assert (exchange["name"], exchange["type"]) == (exchange_for(routing_key), "topic")
        message = messages[f"{routing_key}:Message"]
        envelope = schemas[message["payload"]["$ref"].rsplit("/", 1)[1]]
        assert envelope["properties"]["data"] == {"$ref": f"#/components/schemas/{model.__name__}"}
        assert set(model.model_fields) <= set(schemas[model.__name__]["properties"])


def test_a_routing_key_outside_the_catalog_cannot_be_written() -> None:
    with pytest.raises(KeyError):
        OutboxEvent.of("payment.teleported", {"payment_id": "pay_1"})


def test_a_payload_that_does_not_fit_its_model_cannot_be_written() -> None:
    with pytest.raises(ValidationError):
        OutboxEvent.of("webhook.cashfree.received", {"event_type": "PAYMENT_SUCCESS_WEBHOOK"})
    failure = WebhookFailure(log_id="whl_1", event_type="X", attempt=1, error="boom")
    with pytest.raises(TypeError):
        OutboxEvent.of("webhook.cashfree.received", failure)


def test_a_model_and_the_dict_it_replaced_put_the_same_data_on_the_wire() -> None:
    fields = {"log_id": "whl_1", "event_id": None, "event_type": "PAYMENT_SUCCESS_WEBHOOK"}
    from_model = OutboxEvent.of("webhook.cashfree.received", WebhookReceived(**fields))
    from_dict = OutboxEvent.of("webhook.cashfree.received", dict(fields))
    assert from_model.envelope.data == from_dict.envelope.data == fields
    read = from_model.envelope.payload(WebhookReceived)
    assert (read.log_id, read.event_id) == ("whl_1", None)


def test_extra_fields_a_publisher_adds_are_kept() -> None:
    data = {"alert": "second_capture", "severity": "critical", "alert_id": "a:1", "amount": 5}
    assert OutboxEvent.of("email.admin.alert", data).envelope.data == data
