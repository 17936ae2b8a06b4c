"""The installed package holds every module of the source tree.

The four top folders are mapped into one ``mlchaos`` namespace through setuptools' ``package-dir``, and the
sub-packages are listed by hand in pyproject.toml. An editable install finds a sub-package missing from that list
anyway, so only a real install (the container image, a user's ``pip install``) would fail to import it: this
test is what notices first.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_source_package_is_listed_for_installation() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = set()
    for name, folder in setuptools["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join((name, *relative.parts)))
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - found == set(), "these listed packages have no folder with an __init__.py"
