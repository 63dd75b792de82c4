"""`manage.py clock`: the Procfile's `clock` process (moderation/clock.py says what it does)."""

import logging
import signal
import threading

from django.core.management.base import BaseCommand

from moderation import clock

log = logging.getLogger("moderation.clock")


class Command(BaseCommand):
    help = (
        "End bans on time and dispatch a dead worker's bans again (each second), reconcile "
        "(every 15 s). Run two or more: any one may stop."
    )

    def handle(self, *args, **options):
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        # Log lines, not standard output: under LOG_FORMAT=json every line the clock writes is JSON.
        log.info("Clock started: expiry and claims each second, reconcile every 15 s.")
        clock.run(stop)
        log.info("Clock stopped.")
