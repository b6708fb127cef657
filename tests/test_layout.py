"""The folder list is the architecture: imports point one way (launcher/offline -> services -> common)."""
import ast
from pathlib import Path

from common.config import PROJECT_ROOT
from common.topology import SERVICES

TOP = ("common", "services", "launcher", "offline")


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function (a lazy import is an import too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in out if name.split(".")[0] in TOP}


def files(package: str):
    return sorted((PROJECT_ROOT / package).rglob("*.py"))


def test_common_imports_nothing_above_it():
    for path in files("common"):
        assert all(name.startswith("common") for name in imports_of(path)), path


def test_a_live_service_imports_only_common_and_itself():
    for path in files("services"):
        own = "services." + path.relative_to(PROJECT_ROOT / "services").parts[0]
        for name in imports_of(path):
            assert name.startswith(("common", own)) or name == "services", (path, name)


def test_services_holds_exactly_the_live_processes_of_the_topology():
    packages = {p.name for p in (PROJECT_ROOT / "services").iterdir() if (p / "__init__.py").is_file()}
    assert packages == {info.module.split(".")[1] for info in SERVICES}
    for info in SERVICES:
        main = PROJECT_ROOT / Path(*info.module.split("."))
        assert (main / "__main__.py").is_file() or main.with_suffix(".py").is_file(), info.module

