"""Periodic jobs for `manage.py rqcron moderation.cron` (the Procfile's `cron` process)."""

from rq import cron

from moderation import jobs

# Catches bans Redis never got or lost (pending, timers, lifts and changes not yet synced).
cron.register(jobs.reconcile, queue_name="moderation", interval=15, name="reconcile")
# Ends timed bans on time: each run is one indexed query when nothing is due.
cron.register(jobs.expire_bans, queue_name="moderation", interval=1, name="expire", result_ttl=10)
