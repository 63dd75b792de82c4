"""Demo data for `make run`: one app per vendor, pointed at the local vendor emulator."""

import json
import secrets

from django.conf import settings

from .models import Room, Vendor, VendorApp

DEMO_APPS = [
    # (name, vendor, vendor app id, region, access key id)
    ("Demo Volcengine", Vendor.VOLCENGINE, "demo661e543cf", "cn-north-1", "AKLTdemo"),
    ("Demo ZEGO", Vendor.ZEGO, "1234567890", "", ""),
    ("Demo Tencent", Vendor.TENCENT, "1400000001", "ap-guangzhou", "AKIDdemo"),
]
DEMO_ROOMS = {
    Vendor.VOLCENGINE: [("lobby", "Lobby"), ("karaoke-7", "Karaoke night")],
    Vendor.ZEGO: [("live-1001", "Evening live show"), ("pk-battle", "PK battle")],
    Vendor.TENCENT: [("1234", "Numeric room"), ("study-hall", "Study hall")],
}
DEMO_MEMBERS = [f"user{n:03d}" for n in range(1, 13)]


def emulator_apps_file():
    return settings.VAR_DIR / "emulator-apps.json"


def load_demo(emulator_base_url: str, console_base_url: str = "") -> list[VendorApp]:
    """Creates the demo apps once and writes the emulator's side of their credentials.

    The emulator plays the vendor, so it must know the same secrets; they go to a file under
    var/ that only this machine reads.
    """
    apps, emulator_apps = [], []
    for name, vendor, vendor_app_id, region, access_key_id in DEMO_APPS:
        app = VendorApp.objects.filter(name=name).first()
        if app is None:
            app = VendorApp(
                name=name,
                vendor=vendor,
                vendor_app_id=vendor_app_id,
                region=region,
                access_key_id=access_key_id,
            )
            app.secret = secrets.token_hex(16)
            app.callback_secret = secrets.token_hex(16)
        app.endpoint = f"{emulator_base_url}/{vendor}"
        app.full_clean()
        app.save()
        for room_id, label in DEMO_ROOMS[vendor]:
            Room.objects.get_or_create(app=app, room_id=room_id, defaults={"label": label})
        apps.append(app)
        emulator_apps.append(
            {
                "vendor": vendor,
                "app_id": vendor_app_id,
                "access_key_id": access_key_id,
                "secret": app.secret,
                "members": {room_id: DEMO_MEMBERS for room_id, _ in DEMO_ROOMS[vendor]},
                # The emulator reports joins and leaves to the console, as the vendor would.
                "callback_url": (
                    f"{console_base_url}/callbacks/{app.callback_id}/" if console_base_url else ""
                ),
                "callback_secret": app.callback_secret,
            }
        )
        if vendor == Vendor.ZEGO:
            # ZEGO mutes a stream, not a user: a few members publish in the first room (a
            # stream id is the app's, so one room), so that mutes can be tried.
            first_room = DEMO_ROOMS[vendor][0][0]
            emulator_apps[-1]["publishing"] = {first_room: DEMO_MEMBERS[:4]}
    path = emulator_apps_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(emulator_apps, indent=2))
    return apps
