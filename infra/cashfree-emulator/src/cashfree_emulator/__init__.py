"""A local Cashfree PG emulator for development and tests (never deployed).

Start it with `python -m cashfree_emulator`; in tests use `cashfree_emulator.testing.running_emulator`
and drive it with `cashfree_emulator.control.EmulatorControl`.
"""

from cashfree_emulator.app import create_app
from cashfree_emulator.settings import EmulatorSettings

__all__ = ["EmulatorSettings", "create_app"]
