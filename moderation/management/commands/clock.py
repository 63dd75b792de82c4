"""`manage.py clock`: the Procfile's `clock` process (moderation/clock.py says what it does)."""

import signal
import threading

from django.core.management.base import BaseCommand

from moderation import clock


class Command(BaseCommand):
    help = (
        "End bans on time and dispatch a dead worker's bans again (each second), reconcile "
        "(every 15 s). Run two or more: any one may stop."
    )

    def handle(self, *args, **options):
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write("Clock started: expiry and claims each second, reconcile every 15 s.")
        self.stdout.flush()
        clock.run(stop)
        self.stdout.write("Clock stopped.")
