"""Periodic jobs for `manage.py rqcron moderation.cron` (the Procfile's `cron` process)."""

from rq import cron

from moderation import jobs

# Catches bans Redis never got or lost (pending, timers, lifts and changes not yet synced).
cron.register(jobs.reconcile, queue_name="moderation", interval=15, name="reconcile")
