"""requirements.txt is what the application needs to run; requirements-dev.txt adds the test and lint tools.

Production installs only the first, so a test tool there is carried (and, for Schemathesis's rich, imported
by Flask-Limiter's CLI plugin at every ``flask`` start) for nothing, and a runtime package left in the second
breaks ``make run`` on a fresh machine. Dependencies are read from the installed packages' metadata.
"""

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
#: What `make run`, `serve`, `worker`, `beat` and `bench` run: their third-party imports must be runtime pins.
RUNTIME_SOURCES = ["crm", "workers", "bench", "config.py", "wsgi.py"]
FIRST_PARTY = {"crm", "workers", "bench", "config", "wsgi", "tests"}
TEST_TOOLS = {"pytest", "playwright", "schemathesis", "hypothesis", "rich", "ruff", "aiosmtpd", "pypdf"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_requirements(name: str) -> tuple[list[str], dict[str, Requirement]]:
    """The file's ``-r`` includes and its pins by canonical name."""
    includes, pins = [], {}
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            includes.append(line.removeprefix("-r ").strip())
            continue
        requirement = Requirement(line)
        assert canonical(requirement.name) not in pins, f"{requirement.name} is pinned twice in {name}"
        pins[canonical(requirement.name)] = requirement
    return includes, pins


def dependencies(requirement: Requirement) -> set[str]:
    """The installed distribution's requirements that apply here, with the extras asked for."""
    found = set()
    extras = sorted(requirement.extras) or [""]
    for line in metadata.distribution(requirement.name).requires or []:
        dependency = Requirement(line)
        if dependency.marker is None or any(dependency.marker.evaluate({"extra": extra}) for extra in extras):
            found.add(canonical(dependency.name))
    return found


def unpinned_dependencies(pins: dict[str, Requirement], allowed: set[str]) -> dict[str, set[str]]:
    return {name: missing for name, req in pins.items() if (missing := dependencies(req) - allowed)}


def test_dev_requirements_start_from_the_runtime_ones():
    includes, _ = read_requirements("requirements-dev.txt")
    assert includes == ["requirements.txt"]
    assert read_requirements("requirements.txt")[0] == []


def test_every_package_is_pinned_exactly_in_one_file():
    _, runtime = read_requirements("requirements.txt")
    _, dev = read_requirements("requirements-dev.txt")
    for requirement in [*runtime.values(), *dev.values()]:
        assert re.fullmatch(r"==[^,*]+", str(requirement.specifier)), f"{requirement} is not pinned to one version"
    assert set(runtime) & set(dev) == set()


def test_no_test_or_lint_tool_in_the_runtime_requirements():
    _, runtime = read_requirements("requirements.txt")
    _, dev = read_requirements("requirements-dev.txt")
    assert set(runtime) & TEST_TOOLS == set()
    assert TEST_TOOLS <= set(dev)


def test_each_file_pins_every_dependency_of_its_packages():
    _, runtime = read_requirements("requirements.txt")
    _, dev = read_requirements("requirements-dev.txt")
    assert unpinned_dependencies(runtime, set(runtime)) == {}
    assert unpinned_dependencies(dev, set(runtime) | set(dev)) == {}


def third_party_imports(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.partition(".")[0])
    return modules - set(sys.stdlib_module_names) - FIRST_PARTY


def test_the_application_imports_only_runtime_packages():
    _, runtime = read_requirements("requirements.txt")
    distributions = metadata.packages_distributions()
    outside = {}
    for source in RUNTIME_SOURCES:
        for path in [ROOT / source] if source.endswith(".py") else sorted((ROOT / source).rglob("*.py")):
            for module in third_party_imports(path):
                owners = {canonical(name) for name in distributions.get(module, [module])}
                if not owners & set(runtime):
                    outside.setdefault(module, []).append(str(path.relative_to(ROOT)))
    assert outside == {}
