"""Every model with an outbox declares the index its relay's sweep searches, so that a sweep
reads the documents whose events wait, not the whole collection."""

import importlib
import pkgutil

import paycore
from beanie import Document
from paycore.kit.events import OUTBOX_DUE, OUTBOX_DUE_INDEX


def outboxed_models() -> list[type[Document]]:
    for module in pkgutil.walk_packages(paycore.__path__, "paycore."):
        if module.name.endswith(".models"):
            importlib.import_module(module.name)
    found: list[type[Document]] = []
    pending = list(Document.__subclasses__())
    while pending:
        model = pending.pop()
        pending += model.__subclasses__()
        if model.__module__.startswith("paycore.") and "outbox" in model.model_fields:
            found.append(model)
    return found


def test_every_outboxed_model_declares_the_sweep_index() -> None:
    models = outboxed_models()
    assert len(models) >= 7, models  # payments, refunds, webhook logs, invoices, ...
    for model in models:
        names = [index.document["name"] for index in model.Settings.indexes]
        assert OUTBOX_DUE_INDEX.document["name"] in names, model
    assert OUTBOX_DUE_INDEX.document["key"] == {OUTBOX_DUE: 1}
