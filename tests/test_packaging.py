"""What the package ships: the licence, the models and their cards, no build scripts inside it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_models_package_holds_models_and_cards_only():
    """models/ installs as loco_cli.models: every .py file in it would ship (a build script did)."""
    assert sorted(p.name for p in (ROOT / "models").glob("*.py")) == ["__init__.py"]
    assert {p.suffix for p in (ROOT / "models").iterdir() if p.is_file()} <= {".py", ".pt", ".md", ".json"}


def test_metadata_names_the_licence_and_its_file():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert any(c.startswith("Topic :: Multimedia :: Sound/Audio") for c in project["classifiers"])
