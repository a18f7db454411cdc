""".ci/lowest.txt pins the lowest versions pyproject.toml admits, for .ci/lowest-versions (the second half of the README's test command):
a pin left behind when a bound moves would test versions the package does not allow."""

from __future__ import annotations

import re
from importlib.metadata import requires

from conftest import REPO

LOWEST = REPO / ".ci" / "lowest.txt"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _release(version: str) -> tuple[int, ...]:
    """1.0 and 1.0.0 are the same release."""
    parts = [int(part) for part in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def lower_bounds() -> dict[str, str]:
    """Each dependency's `>=` bound, from the installed metadata (the dev extra is not
    installed by the test run, so it is left out)."""
    bounds: dict[str, str] = {}
    for requirement in requires("manage-project") or []:
        if 'extra == "dev"' in requirement:
            continue
        match = re.match(r"\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?([^;]*)", requirement)
        assert match, requirement
        low = re.search(r">=\s*([0-9][0-9.]*)", match.group(2))
        if low:
            name = _canonical(match.group(1))
            bounds[name] = max(bounds.get(name, low.group(1)), low.group(1), key=_release)
    return bounds


def pins() -> dict[str, tuple[str, str]]:
    """Name -> (pinned version, its line)."""
    pinned: dict[str, tuple[str, str]] = {}
    for line in LOWEST.read_text().splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)==([0-9][0-9.]*)", line)
        if match:
            pinned[_canonical(match.group(1))] = (match.group(2), line)
    return pinned


def test_lowest_pins_are_the_lower_bounds() -> None:
    bounds, pinned = lower_bounds(), pins()
    assert "sqlalchemy" in bounds and "alembic" in bounds
    for name, bound in bounds.items():
        assert name in pinned, f"{name}>={bound} is not pinned in .ci/lowest.txt"
        version, line = pinned[name]
        if _release(version) != _release(bound):
            assert _release(version) > _release(bound) and f"not {bound}:" in line, (
                f"{line!r}: pin {name}=={bound}, or say why not ('# not {bound}: ...')"
            )


def test_release_ignores_trailing_zeros() -> None:
    assert _release("1.0") == _release("1.0.0") < _release("1.0.1") < _release("1.10")
