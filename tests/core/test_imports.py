"""psa.core is shared by every feature and imports none of them.

For now this checks only psa.jobs: core/mail.py used to import psa.jobs.tasks, which imports core/mail.py.
core/calendar.py and core/routes.py still import psa.admin; when they stop, widen FORBIDDEN to every feature.
"""

from __future__ import annotations

import ast
from pathlib import Path

import psa.core

CORE = Path(psa.core.__file__).parent
FORBIDDEN = ("psa.jobs",)


def imported_modules(path: Path) -> set[str]:
    """Every module the file imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_core_imports_no_jobs_module():
    found = {
        f"{path.name}: {name}"
        for path in sorted(CORE.glob("*.py"))
        for name in imported_modules(path)
        if any(name == feature or name.startswith(f"{feature}.") for feature in FORBIDDEN)
    }
    assert found == set()


def test_the_check_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from psa.jobs.tasks import deliver_outbox_job\n    import psa.jobs.worker\n")
    assert {"psa.jobs.tasks", "psa.jobs.worker"} <= imported_modules(sample)
