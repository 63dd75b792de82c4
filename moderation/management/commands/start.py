"""`make run`: migrate, make a demo login and demo data, then web + worker + emulator together."""

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from moderation import embedded_redis
from moderation.demo import load_demo


class Command(BaseCommand):
    help = "Start the console for local use: web server, RQ worker with scheduler, vendor emulator."

    def handle(self, *args, **options):
        var = Path(settings.VAR_DIR)
        var.mkdir(exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        username, password = self.demo_login(var)
        emulator_port = os.environ.get("EMULATOR_PORT", "8090")
        bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
        load_demo(f"http://127.0.0.1:{emulator_port}", f"http://{bind}")
        embedded, redis_url = self.choose_redis(var)

        self.stdout.write(
            self.style.SUCCESS(
                f"\nOpen http://{bind}/admin/ and log in as {username!r} with "
                f"password {password!r}."
            )
        )
        self.stdout.write("Ctrl-C stops the web server, the worker, the emulator and Redis.\n")
        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "VAR_DIR": str(var),
            "DEBUG": os.environ.get("DEBUG", "true"),
            "WEB_BIND": bind,
            "EMULATOR_PORT": emulator_port,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        honcho = shutil.which("honcho", path=env["PATH"])
        process = subprocess.Popen(  # noqa: S603
            [
                honcho,
                "-f",
                str(settings.BASE_DIR / "Procfile"),
                "start",
                "web",
                "worker",
                "emulator",
            ],
            cwd=settings.BASE_DIR,
            env=env,
        )
        try:
            process.wait()
        except KeyboardInterrupt:
            # The terminal sent SIGINT to honcho too; give it time to stop its children.
            process.wait()
        finally:
            if embedded is not None:
                embedded_redis.stop(embedded)

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
        url = os.environ.get("REDIS_URL")
        if url:
            try:
                redis.Redis.from_url(url, socket_connect_timeout=1).ping()
                self.stdout.write(f"Redis: using REDIS_URL ({url}).")
                return None, url
            except redis.RedisError as exc:
                self.stdout.write(f"Redis: nothing answers at REDIS_URL ({exc}).")
        embedded, url = embedded_redis.start(str(var / "redis.db"))
        self.stdout.write(f"Redis: using the embedded Redis under var/ ({url}).")
        return embedded, url
