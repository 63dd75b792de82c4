"""A trigram index for the history's search of reasons (PostgreSQL only).

Django's `reason__icontains` is `UPPER(reason::text) LIKE UPPER('%…%')`; a GIN trigram index on
that expression lets PostgreSQL answer it from the index instead of reading every ban. SQLite
(local use) has no such index and scans, which is fine at its sizes.
"""

import logging

from django.db import DatabaseError, migrations, transaction

log = logging.getLogger(__name__)

INDEX = "ban_reason_trgm_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            # pg_trgm is a trusted extension: the database's owner may create it.
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        log.warning(
            "pg_trgm is not available (%s); the history's reason search reads every ban. "
            "Install PostgreSQL's contrib package and run `migrate` again to add %s.",
            exc,
            INDEX,
        )
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON moderation_ban "
        "USING gin ((UPPER(reason::text)) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("moderation", "0004_presence_callbacks_tokens")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
