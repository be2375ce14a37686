import gc

from paycore.kit.runner import GracefulServer, _config
from paycore.kit.settings import BaseServiceSettings
from starlette.applications import Starlette


async def test_objects_made_before_start_up_ends_are_left_out_of_collections() -> None:
    settings = BaseServiceSettings(service_name="test")  # type: ignore[call-arg]
    config = _config(Starlette(), settings, 0, "on")
    config.load()
    server = GracefulServer(config)
    server.lifespan = config.lifespan_class(config)
    made_at_start_up = object.__new__(type("MadeAtStartUp", (), {}))  # tracked by the collector
    gc.unfreeze()
    try:
        await server.startup()
        assert gc.get_freeze_count() > 0
        assert not any(found is made_at_start_up for found in gc.get_objects())
        await server.shutdown()
    finally:
        gc.unfreeze()
