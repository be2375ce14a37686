from payments_api_testing import api, emu

__all__ = ["api", "emu"]  # the fixtures every test module of the API uses
