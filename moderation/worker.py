"""The RQ worker class `manage.py rqworker` uses (settings.RQ["WORKER_CLASS"])."""

from django.db import close_old_connections
from rq.worker import SimpleWorker


class Worker(SimpleWorker):
    """Runs each job in the worker process itself.

    RQ's default forks a child per job: with Django loaded that fork and the child's new
    database connection cost about as much as the vendor call, on every kick. A job that
    crashes the process still loses nothing: its bans stay pending and `reconcile` dispatches
    them again once their claim lapses.
    """

    def perform_job(self, job, queue, execution):
        # Outside requests Django never recycles connections; do it around each job instead, so a
        # restarted PostgreSQL or a connection past CONN_MAX_AGE is replaced.
        close_old_connections()
        try:
            return super().perform_job(job, queue, execution)
        finally:
            close_old_connections()
