"""The vendor layer: one client class per RTC vendor, picked by the app's vendor key.

As in healthchecks' transports, one table maps each vendor key to its class; the models use
`VENDOR_CHOICES` from the same table, so a vendor is added in exactly one place.
"""

from __future__ import annotations

from .base import (
    AppConnection,
    CallResult,
    Capabilities,
    VendorClient,
    VendorInputError,
    VendorRequest,
)
from .tencent import TencentClient
from .volcengine import VolcengineClient
from .zego import ZegoClient

VENDORS: dict[str, type[VendorClient]] = {
    cls.vendor: cls for cls in (VolcengineClient, ZegoClient, TencentClient)
}
VENDOR_CHOICES = [(key, cls.label) for key, cls in VENDORS.items()]


def vendor_class(vendor: str) -> type[VendorClient]:
    try:
        return VENDORS[vendor]
    except KeyError:
        raise VendorInputError(
            "vendor", f"unknown vendor {vendor!r}; use one of {', '.join(VENDORS)}"
        ) from None


def client_for(connection: AppConnection, **kw) -> VendorClient:
    """A client for the connection's vendor; `kw` goes to the client (e.g. `timeout=`)."""
    return vendor_class(connection.vendor)(connection, **kw)


def capabilities_for(vendor: str) -> Capabilities:
    return vendor_class(vendor).capabilities


__all__ = [
    "VENDORS",
    "VENDOR_CHOICES",
    "AppConnection",
    "CallResult",
    "Capabilities",
    "TencentClient",
    "VendorClient",
    "VendorInputError",
    "VendorRequest",
    "VolcengineClient",
    "ZegoClient",
    "capabilities_for",
    "client_for",
    "vendor_class",
]
