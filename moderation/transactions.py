"""One transaction helper for writes that read first."""

import contextlib

from django.db import connection, transaction


@contextlib.contextmanager
def writing():
    """`transaction.atomic()` that takes the database's write lock before anything else.

    On SQLite a transaction that reads and then writes fails at once ("database is locked")
    when another process commits in between; one that starts with a write waits its turn
    instead, as BEGIN IMMEDIATE would. (Django's SQLite option transaction_mode="IMMEDIATE"
    does this for every transaction.) On PostgreSQL row locks do the job and this adds nothing.
    """
    with transaction.atomic():
        if connection.vendor == "sqlite" and not connection.transaction_mode:
            with connection.cursor() as cursor:
                cursor.execute("UPDATE moderation_ban SET id = id WHERE 0")
        yield
