"""The package's shape stays what docs/CONTRACTS.md draws: layers, no cycles, no private names across modules.

Reads every module of ``grader/`` with ``ast`` (imports inside functions included) and fails on
an import cycle between modules, an import that points up the layers (cli -> course -> notebook ->
key -> core), or a ``_private`` name taken from another module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "grader"
LAYERS = ["core", "key", "notebook", "course", "cli"]  # bottom to top
# Inside the course layer, the stages in order: the base modules (grader/course/*.py: the course folder,
# progress, kernels, scorecards), then each sub-package depending only on those before it.
COURSE_STAGES = ["", "sandbox", "release", "grading", "report", "demo"]
# Old dotted names kept for nbgrader_config.py files written before the split: aliases nothing imports.
ALIASES = {"grader.course.nbgrader_steps", "grader.course.releaseprep", "grader.course.feedbackhtml"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every grader import in the module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, list[str], int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "grader":
                    found.append((alias.name, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "grader":
                continue
            plain: list[str] = []
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in known:  # "from grader.key import wire" imports a module
                    found.append((sub, [], node.lineno))
                else:
                    plain.append(alias.name)
            if plain:
                found.append((target, plain, node.lineno))
    return found


def _layer(module: str) -> float:
    """The module's height: its layer, and inside the course layer its stage as a fraction."""
    parts = module.split(".")
    if len(parts) == 1:  # grader/__init__.py: the lazy public surface, above everything it re-exports
        return len(LAYERS)
    layer = float(LAYERS.index(parts[1]))
    if parts[1] == "course" and module not in ALIASES:
        stage = parts[2] if len(parts) > 2 and parts[2] in COURSE_STAGES else ""
        layer += COURSE_STAGES.index(stage) / len(COURSE_STAGES)
    return layer


def _graph() -> dict[str, list[tuple[str, list[str], int]]]:
    mods = _modules()
    return {name: _imports(name, path, set(mods)) for name, path in mods.items()}


def test_every_module_sits_in_a_layer() -> None:
    stray = [m for m in _modules() if m != "grader" and m.split(".")[1] not in LAYERS]
    assert not stray, f"modules outside the layers {LAYERS}: {stray}"


def test_dependencies_point_down_only() -> None:
    upward = []
    for module, deps in _graph().items():
        if module == "grader" or module in ALIASES:
            continue
        for target, _, line in deps:
            if target == "grader" or _layer(target) > _layer(module):
                upward.append(f"{module}:{line} imports {target}")
    assert not upward, "imports that point up the layers:\n" + "\n".join(upward)


def test_core_imports_nothing_of_jupyter_nbgrader_or_plotting() -> None:
    banned = ("IPython", "ipykernel", "nbgrader", "nbformat", "nbclient", "matplotlib", "jupyter")
    bad = []
    for path in (PACKAGE / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{path.name}: {n}" for n in names if n.split(".")[0] in banned]
    assert not bad, bad


def test_no_private_name_is_taken_across_modules() -> None:
    taken = [
        f"{module}:{line} takes {name} from {target}"
        for module, deps in _graph().items()
        for target, names, line in deps
        for name in names
        if name.startswith("_") and target != module
    ]
    assert not taken, "private names taken across modules:\n" + "\n".join(taken)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_course_layer_is_in_stages() -> None:
    """grader/course/ shows its stages as sub-packages; only the base modules and the aliases sit flat."""
    course = PACKAGE / "course"
    subs = sorted(p.name for p in course.iterdir() if p.is_dir() and (p / "__init__.py").is_file())
    assert subs == sorted(s for s in COURSE_STAGES if s), subs
    flat = sorted(p.stem for p in course.glob("*.py") if p.stem != "__init__")
    assert len(flat) <= 8, f"grader/course/ holds {len(flat)} flat modules: put each in its stage: {flat}"
    for alias in ALIASES:
        assert not any(alias == t for deps in _graph().values() for t, _, _ in deps), f"{alias} is imported"


def test_the_stage_order_is_checked() -> None:
    """A stage importing a later one is upward: report -> demo is caught, demo -> report is not."""
    assert _layer("grader.course.report.pages") < _layer("grader.course.demo.run")
    assert _layer("grader.course.sandbox.zygote") < _layer("grader.course.release.keybuild")
    assert _layer("grader.course.coursedir") < _layer("grader.course.sandbox.executor")
    assert _layer("grader.course.demo.run") < _layer("grader.cli")


def test_no_import_cycle() -> None:
    graph = {m: {t for t, _, _ in deps if t != m} for m, deps in _graph().items()}
    # a package's __init__ runs before any of its modules; an import of the package is an import of it
    found = _cycle(graph)
    assert found is None, "import cycle: " + " -> ".join(found or [])


def test_the_checker_sees_a_planted_cycle_and_a_private_name() -> None:
    """The checks above can fail: a small graph with a cycle is found, a clean one is not."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    deps = _imports("grader.key.x", PACKAGE / "key" / "entries.py", set(_modules()))
    assert all(t.startswith("grader") for t, _, _ in deps)


@pytest.mark.parametrize("module", sorted(_modules()))
def test_no_module_is_much_larger_than_one_concept(module: str) -> None:
    lines = len(_modules()[module].read_text(encoding="utf-8").splitlines())
    assert lines <= 650, f"{module} has {lines} lines: look for the seam between its concepts"


def test_old_dotted_names_in_course_configs_still_resolve() -> None:
    """A course's nbgrader_config.py written before the split names steps by their old dotted paths."""
    from traitlets.utils.importstring import import_item

    from grader.course.grading import feedbackhtml, nbgrader_steps
    from grader.course.release import releaseprep

    assert import_item("grader.course.nbgrader_steps.SandboxedExecute") is nbgrader_steps.SandboxedExecute
    assert import_item("grader.course.nbgrader_steps.SaveTrustedGrades") is nbgrader_steps.SaveTrustedGrades
    assert import_item("grader.course.releaseprep.DropKeyDeclarations") is releaseprep.DropKeyDeclarations
    assert import_item("grader.course.feedbackhtml.RenderFeedback") is feedbackhtml.RenderFeedback


def test_the_process_that_runs_calcgrade_autograde_imports_no_sympy() -> None:
    """``calcgrade autograde``'s own process never evaluates an answer (its grading process does, and the
    sandbox runs the notebooks), so SymPy, NumPy and mpmath stay out of it: a second or so of every run's
    start-up.  Imports every module that process uses, and runs the per-notebook calls that once pulled
    SymPy in (hints read from a notebook, a student's variant numbers, an answer-log row the grading process
    already printed), in a fresh interpreter."""
    import subprocess
    import sys

    code = """
import sys
import grader.course.grading.autogradecli, grader.course.grading.autograde, grader.course.grading.nbgrader_steps
import grader.course.grading.sharedgradebook, grader.course.grading.gradingprocess, grader.course.grading.answerlog
import grader.course.release.keystate, grader.course.scorecard
from grader.course.grading.nbgrader_steps import hints_seen
from grader.key.variants import params_for_student
hints_seen({"cells": [{"cell_type": "code", "outputs": [{"output_type": "display_data", "data": {
    "application/vnd.calcgrade.hint+json": {"qid": "q", "tier": 1, "tiers": 2, "v": 1}}}]}]})
params_for_student({"course": "c", "assignment": "a", "questions": {"q": {"qid": "q", "kind": "expression"}}}, "s")
print(" ".join(m for m in ("sympy", "numpy", "mpmath") if m in sys.modules) or "none")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=str(PACKAGE.parent))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "none"
