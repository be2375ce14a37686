"""The events paycore publishes: one pydantic payload model per routing key (`catalog.EVENTS`),
checked when an event is written (`paycore.kit.events.OutboxEvent.of`) and read back by
subscribers (`EventEnvelope.payload`). `asyncapi.py` documents them (docs/asyncapi.json)."""
