"""The lock files `make run`, `make test` and CI install from agree with pyproject.toml: a
dependency added to pyproject.toml without `make lock` fails here, not on someone's machine."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)


def pins(name: str) -> dict[str, str]:
    return {canonicalize_name(n): v for n, v in PIN.findall((ROOT / name).read_text())}


def requirements(*groups: str) -> list[Requirement]:
    found = [Requirement(line) for line in PYPROJECT["dependencies"]]
    for group in groups:
        found += [Requirement(line) for line in PYPROJECT["optional-dependencies"][group]]
    return found


@pytest.mark.parametrize(
    ("lock", "groups"), [("requirements.txt", ()), ("requirements-dev.txt", ("dev",))]
)
def test_the_lock_pins_every_dependency_within_its_range(lock, groups):
    locked = pins(lock)

    for requirement in requirements(*groups):
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in {lock}: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{lock} pins {name}=={locked[name]}, outside {requirement.specifier}: run `make lock`"
        )


def test_the_dev_lock_holds_the_versions_of_the_runtime_lock():
    runtime, dev = pins("requirements.txt"), pins("requirements-dev.txt")

    assert {name: dev.get(name) for name in runtime} == runtime


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt"])
def test_every_pin_has_its_hashes_and_no_index_of_this_machine_is_named(lock):
    text = (ROOT / lock).read_text()

    for match in PIN.finditer(text):
        line_end, next_line = text[match.end() :].split("\n", 2)[:2]
        assert line_end == " \\" and next_line.strip().startswith("--hash=sha256:"), match[0]
    assert "--index-url" not in text and "--find-links" not in text
