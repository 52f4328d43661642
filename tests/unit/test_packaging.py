"""The production image installs requirements.txt only: it must bring every package the DAGs and plugins import.

The test environment also has the dev requirements, so a runtime package
pinned only there would pass every other test and fail in the deployment.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
LOCAL = {"ucj"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_by_requirements() -> set[str]:
    """Distributions requirements.txt installs, with everything they require (for this platform)."""
    wanted = [
        Requirement(line.split("#", 1)[0].strip())
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#", 1)[0].strip()
    ]
    seen: set[str] = set()
    while wanted:
        req = wanted.pop()
        name = _norm(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            deps = requires(req.name) or []
        except PackageNotFoundError:
            continue
        for dep in map(Requirement, deps):
            environments = [{"extra": extra} for extra in req.extras] or [{"extra": ""}]
            if dep.marker is None or any(dep.marker.evaluate(env) for env in environments):
                wanted.append(dep)
    return seen


def _imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    for path in [*ROOT.glob("src/ucj/**/*.py"), *ROOT.glob("plugins/*.py"), *ROOT.glob("dags/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m not in LOCAL and m != "__future__"}


def test_every_imported_package_is_installed_by_requirements_txt() -> None:
    installed = _installed_by_requirements()
    providers = packages_distributions()
    missing = {
        module: providers.get(module, ["?"])
        for module in sorted(_imported_top_level_modules())
        if not any(_norm(dist) in installed for dist in providers.get(module, []))
    }
    assert not missing, f"imported by src/ucj, plugins/ or dags/ but not installed by requirements.txt: {missing}"


def test_the_check_sees_what_the_pipeline_imports() -> None:
    modules = _imported_top_level_modules()
    assert {"airflow", "great_expectations", "pandas", "psycopg", "splink", "scipy", "rapidfuzz"} <= modules
