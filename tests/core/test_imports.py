"""Imports run one way: psa/core imports no feature, and no two psa packages import each other (directly or
round a longer loop), counting imports inside functions too.

The graph's nodes are psa's packages (psa.core, psa.projects, ...). The app shell (psa/__init__.py with
create_app, cli.py, models.py, demo.py, extensions.py, config.py) assembles the features, so it imports them
all; it is left out of the cycle check. psa/core may import two pieces of the shell that are infrastructure
rather than features: psa.extensions (the unbound db, login manager, ...) and psa.config; nothing else.

Where a lower package needs something of a higher one, the app hands it over at start instead of an import
(psa/__init__.py, _connect_features): the organisation's zone, calendar and sign-ins to core, the schedule
refresh to admin, the burn figure (minutes logged per project) from timesheets to projects.
"""

from __future__ import annotations

import ast
from pathlib import Path

import psa

PSA = Path(psa.__file__).parent
#: The modules of the app shell: they wire the features together and are no node of the graph.
SHELL = {"psa", "psa.cli", "psa.models", "psa.demo", "psa.extensions", "psa.config"}
#: What psa/core may import outside itself.
CORE_MAY_IMPORT = {"psa.extensions", "psa.config"}


def imported_modules(path: Path) -> set[str]:
    """Every psa module the file imports, at the top or inside a function (relative imports resolved)."""
    package = ".".join(path.relative_to(PSA.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "psa" or name.startswith("psa.")}


def owner(module: str) -> str:
    """The graph node a module belongs to: its psa package, or the shell module itself."""
    parts = module.split(".")
    return "psa" if len(parts) == 1 else f"psa.{parts[1]}"


def module_name(path: Path) -> str:
    parts = path.relative_to(PSA.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_edges() -> dict[tuple[str, str], set[str]]:
    """(importing node, imported node) -> the files where that happens."""
    edges: dict[tuple[str, str], set[str]] = {}
    for path in sorted(PSA.rglob("*.py")):
        source = owner(module_name(path))
        for name in imported_modules(path):
            target = owner(name)
            if target != source:
                edges.setdefault((source, target), set()).add(str(path.relative_to(PSA.parent)))
    return edges


def find_cycle(edges) -> list[str] | None:
    """One cycle of the graph (as a path whose last node is its first), or None."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
    state: dict[str, str] = {}  # "open" while on the current path, "done" after

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt, [*path, nxt])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_psa_core_imports_no_feature():
    found = {f"{sorted(files)} imports {target}" for (source, target), files in import_edges().items()
             if source == "psa.core" and target not in CORE_MAY_IMPORT}
    assert found == set()


def test_no_two_psa_packages_import_each_other():
    edges = {edge: files for edge, files in import_edges().items() if not SHELL & set(edge)}
    cycle = find_cycle(edges)
    assert cycle is None, " -> ".join(cycle) + "; " + "; ".join(
        f"{a} -> {b} in {sorted(edges[(a, b)])}" for a, b in zip(cycle, cycle[1:], strict=False))


def test_projects_and_timesheets_depend_one_way():
    edges = import_edges()
    assert ("psa.timesheets", "psa.projects") in edges  # entries belong to projects
    assert ("psa.projects", "psa.timesheets") not in edges


# --- the checks themselves --------------------------------------------------------------------------


def test_the_check_sees_imports_inside_functions_and_relative_ones(tmp_path, monkeypatch):
    folder = tmp_path / "psa" / "core"
    folder.mkdir(parents=True)
    sample = folder / "sample.py"
    sample.write_text("def f():\n    from psa.jobs.tasks import deliver_outbox_job\n    import psa.admin.models\n"
                      "    from ..projects import services\n    from . import db\n")
    monkeypatch.setattr(f"{__name__}.PSA", tmp_path / "psa")
    found = imported_modules(sample)
    assert {"psa.jobs.tasks", "psa.admin.models", "psa.projects.services", "psa.core.db"} <= found
    assert {owner(name) for name in found} == {"psa.jobs", "psa.admin", "psa.projects", "psa.core"}


def test_the_cycle_finder_finds_long_loops_and_only_loops():
    assert find_cycle({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == ["a", "b", "c", "a"]
    assert find_cycle({("a", "b"), ("b", "c"), ("a", "c")}) is None


def test_only_one_definition_of_each_shared_helper():
    """One clock ("today" in a zone), one ConfirmForm, one hours_to_minutes: no module keeps its own copy."""
    wanted = {"org_today", "user_today", "today_in", "hours_to_minutes", "minutes_to_hours", "ConfirmForm",
              "burned_minutes_by_project", "_today"}
    definitions: dict[str, list[str]] = {}
    for path in sorted(PSA.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in wanted:
                definitions.setdefault(node.name, []).append(str(path.relative_to(PSA.parent)))
    assert definitions == {
        "org_today": ["psa/core/clock.py"], "user_today": ["psa/core/clock.py"], "today_in": ["psa/core/clock.py"],
        "hours_to_minutes": ["psa/core/forms.py"], "minutes_to_hours": ["psa/core/forms.py"],
        "ConfirmForm": ["psa/core/forms.py"],
        # the query (timesheets) and the projects' accessor that calls it through the registered source
        "burned_minutes_by_project": ["psa/projects/services.py", "psa/timesheets/burn.py"],
    }


def test_only_the_clock_reads_the_system_clock():
    """date.today(), datetime.now(), datetime.utcnow() and time.time() appear in psa/core/clock.py only, so
    freezing the clock freezes the whole application."""
    readers = {("date", "today"), ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"),
               ("time", "time")}
    found = set()
    for path in sorted(PSA.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and (node.func.value.id, node.func.attr) in readers):
                found.add(f"{path.relative_to(PSA.parent)}:{node.lineno}")
    assert {place.split(":")[0] for place in found} == {"psa/core/clock.py"}, sorted(found)
