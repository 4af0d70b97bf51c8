"""The import-linter contracts in pyproject.toml hold, and break when code breaks them.

Each control copies the packages into a temporary folder, adds one forbidden import there (an
upward import between layers, or Flask, the database, the clock or Redis in a rule module), and
runs the real `lint-imports` on the copy with the project's own configuration: it must fail and
name the contract. The contracts are read from pyproject.toml, so renamed modules need no edit here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
CONTRACTS = {contract["id"]: contract for contract in CONFIG["contracts"]}
LAYERS = CONTRACTS["layers"]["layers"]  # highest first
PURE = CONTRACTS["pure-rules"]


def lint_imports(folder: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the packages in `folder` (and nothing of the repository), no cache."""
    command = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--no-logo",
               "--config", str(folder / "pyproject.toml")]
    env = {**os.environ, "PYTHONPATH": str(folder)}
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def copy_of_the_project(tmp_path: Path) -> Path:
    for package in CONFIG["root_packages"]:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def source_of(folder: Path, module: str) -> Path:
    path = folder.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def add_import(folder: Path, module: str, statement: str) -> None:
    path = source_of(folder, module)
    path.write_text(path.read_text() + f"\n{statement}  # noqa\n")


def test_the_project_keeps_its_contracts():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


def test_control_an_unchanged_copy_keeps_them_too(tmp_path):
    result = lint_imports(copy_of_the_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


UPWARD = [(lower, higher) for i, higher in enumerate(LAYERS) for lower in LAYERS[i + 1:]]


@pytest.mark.parametrize(("lower", "higher"), UPWARD, ids=[f"{lo}-imports-{hi}" for lo, hi in UPWARD])
def test_control_an_upward_import_breaks_the_layers(tmp_path, lower, higher):
    folder = copy_of_the_project(tmp_path)
    (folder / lower / "upward_probe.py").write_text(f'"""Added by the test."""\n\nimport {higher}  # noqa\n')
    result = lint_imports(folder)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{CONTRACTS['layers']['name']} BROKEN" in result.stdout
    assert f"{lower}.upward_probe -> {higher}" in result.stdout
    assert f"{PURE['name']} KEPT" in result.stdout


@pytest.mark.parametrize("module", PURE["source_modules"])
def test_control_a_rule_module_that_reads_the_clock_breaks_purity(tmp_path, module):
    folder = copy_of_the_project(tmp_path)
    add_import(folder, module, "from helpdesk.clock import utcnow")
    result = lint_imports(folder)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{PURE['name']} BROKEN" in result.stdout
    assert f"{module} is not allowed to import helpdesk.clock" in result.stdout


def test_control_a_rule_module_that_uses_a_framework_breaks_purity(tmp_path):
    folder = copy_of_the_project(tmp_path)
    module = PURE["source_modules"][0]
    for forbidden in ("flask", "sqlalchemy", "flask_sqlalchemy", "helpdesk.extensions", "redis", "rq"):
        add_import(folder, module, f"import {forbidden}")
    result = lint_imports(folder)
    assert result.returncode == 1, result.stdout + result.stderr
    for forbidden in ("flask", "sqlalchemy", "flask_sqlalchemy", "helpdesk.extensions", "redis", "rq"):
        assert f"{module} is not allowed to import {forbidden}:" in result.stdout


def test_control_purity_counts_what_a_rule_module_imports_indirectly(tmp_path):
    """A helper module in between does not hide the database from the contract."""
    folder = copy_of_the_project(tmp_path)
    module = PURE["source_modules"][0]
    package = module.rsplit(".", 1)[0]
    (folder.joinpath(*package.split(".")) / "between_probe.py").write_text('"""Added by the test."""\n\nimport sqlalchemy  # noqa\n')
    add_import(folder, module, f"import {package}.between_probe")
    result = lint_imports(folder)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{module} is not allowed to import sqlalchemy" in result.stdout
    assert f"{package}.between_probe -> sqlalchemy" in result.stdout
