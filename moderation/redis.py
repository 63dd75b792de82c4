"""The process's one Redis client: the queues, the rate limiter, the ban-check cache, the leases.

django-rq opens a new connection pool on every `get_connection`; this keeps one per process.
"""

import django_rq

QUEUE = "moderation"
# Moderators' actions on a few users: every worker takes these first, and one serves only them.
INTERACTIVE_QUEUE = "moderation-interactive"
QUEUES = (INTERACTIVE_QUEUE, QUEUE)  # in the order a worker listens to them

_connection = None


def connection():
    global _connection
    if _connection is None:
        _connection = django_rq.get_connection(QUEUE)
    return _connection


def use(client) -> None:
    """Points this process at another client (None: the configured one, opened on next use)."""
    global _connection
    _connection = client


def queue(*, interactive: bool = False):
    return django_rq.get_queue(INTERACTIVE_QUEUE if interactive else QUEUE, connection=connection())
