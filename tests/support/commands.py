"""Management commands as a shell runs them, in the test's own process."""

from django.core.management import load_command_class


def run_command(capsys, name: str, *argv) -> tuple[int, str, str]:
    """`manage.py NAME ARGV`: (exit status, stdout, stderr), with argparse's own exit 2 and
    CommandError's status and message."""
    try:
        load_command_class("moderation", name).run_from_argv(["manage.py", name, *argv])
        status = 0
    except SystemExit as exit:
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err
