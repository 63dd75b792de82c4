import pytest

from rtc_emulator import Emulator

from .signed import TENCENT, VOLCENGINE, ZEGO, Vendors


def register_apps(emulator: Emulator, **rate_limits) -> None:
    """The three test apps; `rate_limits` maps a vendor to its overrides."""
    emulator.add_app(vendor="volcengine", **VOLCENGINE, rate_limits=rate_limits.get("volcengine"))
    emulator.add_app(vendor="zego", **ZEGO, rate_limits=rate_limits.get("zego"))
    emulator.add_app(vendor="tencent", **TENCENT, rate_limits=rate_limits.get("tencent"))


@pytest.fixture
def emulator():
    emulator = Emulator()
    register_apps(emulator)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def vendors(emulator):
    vendors = Vendors(emulator.base_url)
    yield vendors
    vendors.session.close()
