"""The vendor layer: one client class per RTC vendor, picked by the app's vendor key.

As in healthchecks' transports, one table maps each vendor key to its class; the models use
`VENDOR_CHOICES` from the same table, so a vendor is added in exactly one place.
"""

from __future__ import annotations

from . import tencent, volcengine, zego
from .base import (
    AppConnection,
    CallbackInvalid,
    CallbackRefused,
    CallResult,
    Capabilities,
    Delivery,
    RoomEvent,
    SignedPair,
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


def capabilities_for(vendor: str, *, native_ban: bool = False) -> Capabilities:
    """What the vendor can do; `native_ban` for an account that enabled the vendor's own ban."""
    return vendor_class(vendor).capabilities_with(native_ban=native_ban)


# Each vendor module verifies and reads its own room callbacks: (headers, body, secret, app id)
# -> Delivery (the RoomEvent, None for events the product ignores; when it was sent; the signed
# pair where the signature leaves the body out), raising CallbackRefused (bad signature, no time
# it was sent) or CallbackInvalid (bad body).
CALLBACK_READERS = {
    "volcengine": volcengine.read_callback,
    "zego": zego.read_callback,
    "tencent": tencent.read_callback,
}


def read_callback(vendor: str, headers, body: bytes, *, secret: str, app_id: str) -> Delivery:
    return CALLBACK_READERS[vendor](headers, body, secret=secret, app_id=app_id)


__all__ = [
    "VENDORS",
    "VENDOR_CHOICES",
    "AppConnection",
    "CallResult",
    "CallbackInvalid",
    "CallbackRefused",
    "Capabilities",
    "Delivery",
    "RoomEvent",
    "SignedPair",
    "TencentClient",
    "VendorClient",
    "VendorInputError",
    "VendorRequest",
    "VolcengineClient",
    "ZegoClient",
    "capabilities_for",
    "client_for",
    "read_callback",
    "vendor_class",
]
