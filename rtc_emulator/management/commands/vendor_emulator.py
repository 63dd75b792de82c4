"""Serve the vendor emulator on loopback until Ctrl-C, logging one line per vendor call and one
per room callback it sends."""

import json
import threading
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from rtc_emulator import Emulator
from rtc_emulator.core import VENDORS, require_loopback


class Command(BaseCommand):
    help = (
        "Run the Volcengine / ZEGO / Tencent moderation API emulator on loopback. "
        "Register apps with --apps FILE.json or POST /_emulator/apps."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="a loopback address only")
        parser.add_argument(
            "--port",
            type=int,
            default=8765,
            help="the vendor prefixes /volcengine, /zego, /tencent and the control API "
            "/_emulator/; 0 picks a free port",
        )
        for vendor in VENDORS:
            parser.add_argument(
                f"--port-{vendor}",
                type=int,
                default=0,
                dest=f"port_{vendor}",
                help=f"{vendor} alone, at /, as its official SDK calls it (default: a free port)",
            )
        parser.add_argument(
            "--apps",
            type=Path,
            help="JSON list of apps: [{vendor, app_id, access_key_id, secret, rate_limits?, "
            "strict_rooms?, callback_url?, callback_secret?, forbid_rules?, stream_control?, "
            "members?: {room id: [user ids]}, publishing?: {room id: [user ids]} (zego)}]",
        )

    def handle(self, *args, host, port, apps, **options):
        vendor_ports = {vendor: options[f"port_{vendor}"] for vendor in VENDORS}
        try:
            require_loopback(host)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        emulator = Emulator(on_call=self._log_call, on_callback=self._log_callback)
        self._register_apps(emulator, apps)
        # One writer at a time: handler threads log concurrently.
        self._log_lock = threading.Lock()
        try:
            base_url = emulator.start(host=host, port=port, vendor_ports=vendor_ports)
        except OSError as exc:
            ports = ", ".join(str(p) for p in (port, *vendor_ports.values()))
            raise CommandError(f"Cannot listen on {host} (ports {ports}): {exc}") from exc
        self.stdout.write(f"Vendor emulator listening on {base_url}")
        for vendor in VENDORS:
            self.stdout.write(f"  {vendor} alone, at /: {emulator.vendor_url(vendor)}")
        self.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            self.stdout.write("Stopping the vendor emulator.")
        finally:
            emulator.stop()

    def _register_apps(self, emulator: Emulator, path: Path | None) -> None:
        if path is None:
            return
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read --apps {path}: {exc}") from exc
        if not isinstance(entries, list):
            raise CommandError(f"--apps {path} must hold a JSON list of app objects.")
        for position, entry in enumerate(entries, start=1):
            try:
                # For demos: "members": {room id: [user ids]} seats users in rooms; then, for a
                # ZEGO app, "publishing": {room id: [user ids]} has each of those (seated) users
                # publish one stream, "<user>_main", so its mutes (per stream) can be tried.
                members = dict(entry.pop("members", None) or {})
                publishing = dict(entry.pop("publishing", None) or {})
                app = emulator.add_app(**entry)
                where = {"vendor": app.vendor, "app_id": app.app_id}
                for room_id, user_ids in members.items():
                    for user_id in user_ids:
                        emulator.join(**where, room_id=room_id, user_id=user_id)
                for room_id, user_ids in publishing.items():
                    for user_id in user_ids:
                        emulator.publish(
                            **where, room_id=room_id, user_id=user_id, stream_id=f"{user_id}_main"
                        )
            except (TypeError, ValueError, AttributeError) as exc:
                raise CommandError(f"--apps {path}, entry {position}: {exc}") from exc

    def _log_call(self, call) -> None:
        # Params never hold a secret (signatures are dropped), so the line is safe to keep.
        stamp = time.strftime("%H:%M:%S", time.localtime(call.time))
        flags = " throttled" if call.throttled else ""
        flags += f" fault={call.fault}" if call.fault else ""
        line = (
            f"{stamp} {call.vendor} app={call.app_id or '-'} {call.action or '-'} "
            f"-> {call.http_status} {call.code or 'ok'}{flags} {json.dumps(call.params)}"
        )
        with self._log_lock:
            self.stdout.write(line)
            self.stdout.flush()

    def _log_callback(self, record) -> None:
        # The body holds a signature, never the callback secret; only the outcome is logged.
        stamp = time.strftime("%H:%M:%S", time.localtime(record.sent_at))
        outcome = record.status if record.status is not None else record.error
        line = (
            f"{stamp} {record.vendor} app={record.app_id} callback {record.event} "
            f"{record.user_id}@{record.room_id} -> {outcome} (attempt {record.attempt})"
        )
        with self._log_lock:
            self.stdout.write(line)
            self.stdout.flush()
