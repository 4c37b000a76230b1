"""The floors in pyproject.toml's `dependencies` and the pins of `nox -s minimum` agree.

The `minimum` session installs tests/constraints-minimum.txt; if a floor were raised (or lowered)
in one file only, that session would go on passing while testing versions nobody promised.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "tests" / "constraints-minimum.txt"

# Dependencies whose floor cannot be installed beside the test tools (the constraints file says
# why); anything else in `dependencies` must be pinned there.
UNPINNED = {"tomli"}


# Optional extras that `nox -s minimum` installs (noxfile.TESTED): their floors are promises too.
TESTED_EXTRAS = ("aws",)


def dependencies() -> dict[str, Requirement]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    listed = [*project["dependencies"],
              *(line for extra in TESTED_EXTRAS
                for line in project["optional-dependencies"][extra])]
    requirements = [Requirement(line) for line in listed]
    return {canonicalize_name(r.name): r for r in requirements}


def pins() -> dict[str, str]:
    """name -> version of every `name==version` line; other constraints (`<`, ...) are skipped."""
    found: dict[str, str] = {}
    for raw in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        exact = [s.version for s in requirement.specifier if s.operator == "=="]
        if exact:
            found[canonicalize_name(requirement.name)] = exact[0]
    return found


def floor(requirement: Requirement) -> Version | None:
    floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    return max(floors) if floors else None


@pytest.mark.parametrize("name", sorted(set(dependencies()) - UNPINNED))
def test_floor_is_the_pinned_version(name: str) -> None:
    requirement = dependencies()[name]
    lowest = floor(requirement)
    assert lowest is not None, f"{requirement} has no `>=` floor for `nox -s minimum` to test"
    pinned = pins().get(name)
    assert pinned is not None, f"{CONSTRAINTS.name} does not pin {name} (floor {lowest})"
    # Version equality, so `fastapi>=0.110` matches `fastapi==0.110.0`.
    assert Version(pinned) == lowest, (
        f"pyproject.toml says {requirement}, {CONSTRAINTS.name} pins {name}=={pinned}"
    )


def test_unpinned_names_are_dependencies() -> None:
    # A stale exemption would hide a new dependency of the same name from the check above.
    assert set(dependencies()) >= UNPINNED
    assert not UNPINNED & set(pins()), "an exempt name is pinned after all: drop it from UNPINNED"
