import subprocess
import sys
from pathlib import Path

import adapters
import application
import domain
import entrypoints

REPO = Path(__file__).resolve().parents[2]


def test_imports_point_inwards_and_the_core_imports_no_framework():
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_the_imported_packages_are_this_repositorys_not_namesakes_from_pypi():
    for package in (domain, application, adapters, entrypoints):
        assert Path(package.__file__).resolve().parent.parent == REPO, package.__file__


def test_the_code_is_linted_and_formatted():
    ruff = str(Path(sys.executable).with_name("ruff"))
    for command in ([ruff, "check", "."], [ruff, "format", "--check", "."]):
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_type_hints_check():
    mypy = str(Path(sys.executable).with_name("mypy"))
    result = subprocess.run([mypy], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
