"""The packages are layers along the data flow: occface_core <- tracking <- retarget <- live <- app, with
main.py and benchmarks/ on top. These tests parse every module's imports (at any depth, inside functions
too) so that an import against the flow fails here rather than turning into a cycle later."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("occface_core", "tracking", "retarget", "live", "app")  # each may import only from its left
TOP = ("main", "benchmarks", "tests")                      # may import any layer
TRAINING = "occface_core.training"   # training, export, evaluation: nothing at run time imports it


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    files = [ROOT / "main.py"] + [p for top in LAYERS + TOP[1:] for p in (ROOT / top).rglob("*.py")]
    return {module_name(p): p for p in files}


def imported_names(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """Every module an import statement in `path` (or `source` as if it were there) names, at any depth,
    relative imports resolved."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = []
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.append((node.lineno, module))
            # `from pkg import module` names a module too
            names += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return names


MODULES = project_modules()


def rank(module: str) -> int | None:
    top = module.split(".")[0]
    if top in LAYERS:
        return LAYERS.index(top)
    return len(LAYERS) if top in TOP else None


def test_the_layer_order_is_respected():
    violations = []
    for name, path in MODULES.items():
        own = rank(name)
        for line, imported in imported_names(path):
            other = rank(imported)
            if other is not None and other > own:
                violations.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    assert not violations, "imports against the layer order:\n" + "\n".join(violations)


def test_the_checker_sees_imports_inside_functions():
    """A check that never fails proves nothing: a nested relative import against the order is found."""
    probe = ROOT / "tracking" / "probe.py"
    found = [name for _, name in imported_names(probe, "def f():\n    from ..retarget import stage\n")]
    assert "retarget.stage" in found and rank("retarget.stage") > rank(module_name(probe))


def _reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in MODULES:
            continue
        seen.add(name)
        todo += [imported for _, imported in imported_names(MODULES[name])]
    return seen


RUNTIME_ENTRIES = ["main"] + sorted(name for name in MODULES if name.split(".")[0] in ("tracking", "retarget", "live", "app")
                                   or name.startswith("occface_core.backends"))


@pytest.mark.parametrize("entry", RUNTIME_ENTRIES)
def test_inference_never_imports_training_code(entry):
    assert entry in MODULES
    training = {name for name in _reachable(entry) if name.startswith(TRAINING)}
    assert not training, f"{entry} reaches the training package: {sorted(training)}"


def _imports_qt(name: str) -> bool:
    return any(imported.split(".")[0] == "PyQt6" for _, imported in imported_names(MODULES[name]))


def test_only_the_window_imports_qt_and_the_window_is_only_qt():
    """The runtime (live/ and below) runs headless; app/ holds the Qt code and nothing else."""
    outside = [name for name in MODULES if _imports_qt(name) and name.split(".")[0] not in ("app", "tests", "benchmarks")]
    assert not outside, f"Qt imported outside app/: {outside}"
    qt_free = [name for name in MODULES if name.startswith("app.") and not _imports_qt(name)]
    assert not qt_free, f"app/ modules without Qt (they belong in live/ or below): {qt_free}"


def test_the_headless_command_line_never_imports_the_window():
    """main.py reaches app/ only inside run_window, the function that opens the window: the headless
    path imports live/ and below, never the GUI package."""
    tree = ast.parse((ROOT / "main.py").read_text(encoding="utf-8"))
    window_imports = {id(node) for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef) and fn.name == "run_window"
                      for node in ast.walk(fn)}
    to_app = [node.lineno for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
              and any(name.split(".")[0] == "app" for name in _names(node)) and id(node) not in window_imports]
    assert not to_app, f"main.py imports app/ outside run_window on lines {to_app}"


def _names(node: ast.Import | ast.ImportFrom) -> list[str]:
    return [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]


def test_benchmarks_and_tests_share_helpers_from_the_layers_not_each_other():
    """Helpers both need live in a layer (retarget.synthetic, for example). A benchmark never imports
    tests/; a test imports benchmarks/ only to test that benchmark's own figures (tests/test_bench_*)."""
    found = [f"{name} imports {imported}" for name in MODULES
             for _, imported in imported_names(MODULES[name])
             if (name.startswith("benchmarks") and imported.split(".")[0] == "tests")
             or (name.startswith("tests") and imported.split(".")[0] == "benchmarks"
                 and not name.startswith("tests.test_bench_"))]
    assert not found
