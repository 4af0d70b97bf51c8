"""The SLA and calendar packages keep their shape: imports one way, rules pure, no coverage words in the kernel.

Read from the source with `ast` (imports inside functions count too: that is where the old
sla <-> sla_jobs cycle hid), so nothing is imported to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("tickets/sla", "helpdesk/calendars")
COVERAGE_SOURCES = ("bug_fix", "post_onboarding_package", "support_plan")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module this file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    files = [p for package in PACKAGES for p in (ROOT / package).glob("*.py")]
    modules = {_module(p): p for p in files}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path + [node, nxt]
            if nxt not in state and (found := visit(nxt, path + [node])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [])):
            return found
    return None


def test_the_packages_exist_as_a_newcomer_would_look_for_them():
    graph = _graph()
    assert {"tickets.sla.clock", "tickets.sla.refresh", "tickets.sla.timers", "tickets.sla.policies",
            "helpdesk.calendars.arithmetic", "helpdesk.calendars.models", "helpdesk.calendars.seed"} <= set(graph)


def test_no_import_cycle_inside_the_sla_and_calendar_packages():
    # __init__ registers the package's parts and is imported by none of them
    graph = {name: deps - {"tickets.sla", "helpdesk.calendars"} for name, deps in _graph().items()}
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_timers_import_neither_the_refresh_nor_the_jobs():
    assert not _graph()["tickets.sla.timers"] & {"tickets.sla.refresh", "tickets.sla.jobs"}


@pytest.mark.parametrize("path", sorted((ROOT / "helpdesk/calendars").glob("*.py")), ids=lambda p: p.name)
def test_the_kernel_calendars_import_no_upper_floor_and_name_no_coverage_source(path):
    assert not {m for m in _imports(path) if m.split(".")[0] in {"tickets", "plans"}}
    text = path.read_text()
    assert not [word for word in COVERAGE_SOURCES if word in text]


@pytest.mark.parametrize("relative", ["helpdesk/calendars/arithmetic.py", "tickets/sla/clock.py"])
def test_the_rule_modules_are_pure(relative):
    imported = _imports(ROOT / relative)
    assert not {m for m in imported if m.split(".")[0] in {"flask", "sqlalchemy", "flask_sqlalchemy", "rq"}}
    assert not {m for m in imported if m.startswith(("helpdesk.", "tickets.")) and not m.startswith(
        ("helpdesk.calendars.arithmetic", "tickets.sla.clock"))}
    tree = ast.parse((ROOT / relative).read_text())
    called = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not called & {"now", "utcnow", "today", "time_ns", "monotonic"}
