"""The RQ worker class `manage.py rqworker` uses (settings.RQ["WORKER_CLASS"])."""

from django.db import close_old_connections
from rq.worker import SimpleWorker

from . import liveness, logs
from .services.queue import running_from


class Worker(SimpleWorker):
    """Runs each job in the worker process itself, under a lease that says it is alive.

    RQ's default forks a child per job: with Django loaded that fork and the child's new
    database connection cost about as much as the vendor call, on every kick. A job that
    crashes the process still loses nothing: its bans stay pending, claimed under this
    worker's lease, and the clock dispatches them again once the lease has lapsed (seconds).

    A job from the interactive queue runs as interactive work (`services.queue.running_from`).
    """

    def register_birth(self):
        super().register_birth()
        liveness.start(self.name, "worker", self.connection)

    def register_death(self):
        liveness.stop()
        super().register_death()

    def perform_job(self, job, queue, execution):
        # Outside requests Django never recycles connections; do it around each job instead, so a
        # restarted PostgreSQL or a connection past CONN_MAX_AGE is replaced.
        close_old_connections()
        liveness.begin(job.id)
        token = logs.job_id.set(job.id)  # on every log line of the job, and its error reports
        try:
            with running_from(queue.name):
                return super().perform_job(job, queue, execution)
        finally:
            logs.job_id.reset(token)
            liveness.end()
            close_old_connections()
