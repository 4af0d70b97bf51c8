"""One definition per vocabulary: no second copy of a vocabulary's codes in the code, the
CHECK constraints written exactly as the migrations hold them, and vocabularies that the pure
rule modules can import without loading Flask-Babel, WTForms or SQLAlchemy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk.vocabulary import VOCABULARIES, Priority, Vocabulary, label

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("helpdesk", "tickets", "plans")


def _all_vocabularies() -> dict[str, type[Vocabulary]]:
    import plans.onboarding.vocabulary  # noqa: F401
    import tickets.vocabulary  # noqa: F401

    return VOCABULARIES


def _is_translated(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("_", "_l", "N_", "gettext", "lazy_gettext")


def _literal_code_sets(tree: ast.AST):
    """Every tuple, list or set of string literals, and the keys of every label dict (string keys,
    each value a ``_l("...")``; a dict of data keyed by a vocabulary is not a copy)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = node.elts
        elif isinstance(node, ast.Dict) and node.values and all(_is_translated(v) for v in node.values):
            items = [k for k in node.keys if k is not None]
        else:
            continue
        codes = [i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)]
        if len(codes) >= 2 and len(codes) == len(items):
            yield node.lineno, frozenset(codes)


def duplicates(paths) -> list[str]:
    """Places outside the vocabulary modules that spell out all the codes of a vocabulary."""
    vocabularies = {name: frozenset(cls.values()) for name, cls in _all_vocabularies().items()}
    found = []
    for path in paths:
        if path.name == "vocabulary.py":
            continue
        for line, codes in _literal_code_sets(ast.parse(path.read_text(), str(path))):
            found += [f"{path.relative_to(ROOT)}:{line} {name}" for name, values in vocabularies.items()
                      if codes == values]
    return found


def test_no_vocabulary_is_spelled_out_twice():
    paths = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    assert duplicates(paths) == []


def test_the_duplicate_scan_finds_a_copy(tmp_path):
    """Control: a module that lists the categories again (as tickets/models.py did) is found."""
    copy = ROOT / "tickets" / "_copy_for_test.py"
    try:
        copy.write_text('CATEGORIES = ("question", "configuration_change", "bug")\nLABELS = {"low": _l("Low"), '
                        '"normal": _l("Normal"), "high": _l("High"), "urgent": _l("Urgent")}\n')
        assert duplicates([copy]) == ["tickets/_copy_for_test.py:1 category", "tickets/_copy_for_test.py:2 priority"]
    finally:
        copy.unlink()


def test_check_constraints_are_written_as_the_migrations_hold_them():
    """`flask db check` does not compare CHECK constraints: the SQL must match the migrations byte for byte."""
    from app import create_app
    from helpdesk.extensions import db

    create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    migrations = "".join(p.read_text() for p in (ROOT / "migrations" / "versions").glob("*.py"))
    checks = [
        (table.name, str(c.sqltext))
        for table in db.metadata.tables.values()
        for c in table.constraints
        if c.__class__.__name__ == "CheckConstraint"
    ]
    assert len(checks) > 40
    assert [(t, sql) for t, sql in checks if f'"{sql}"' not in migrations and f"'{sql}'" not in migrations] == []


def test_codes_labels_and_checks_come_from_one_enum():
    assert Priority.values() == ("low", "normal", "high", "urgent")
    assert Priority.check("priority") == "priority IN ('low', 'normal', 'high', 'urgent')"
    assert Priority("high") == "high" and Priority.HIGH.label.msgid == "High"
    assert [(c.value, c.label.msgid) for c in Priority.choices()][:1] == [("low", "Low")]


def test_the_label_filter_takes_a_member_or_a_code_of_a_named_vocabulary():
    vocab = _all_vocabularies()
    assert label(Priority.URGENT).msgid == "Urgent"
    assert label("urgent", "priority").msgid == "Urgent"
    assert label("bug", "category", attribute="help").msgid.startswith("The product misbehaves")
    assert label("nonsense", "priority") == "nonsense"
    assert label(None, "sla_state", "") == ""
    with pytest.raises(KeyError):
        label("low", "no_such_vocabulary")
    assert {"category", "priority", "status", "coverage_source", "charge", "approval", "stage"} <= set(vocab)


def test_the_rule_modules_load_vocabularies_without_babel_forms_or_the_database():
    code = (
        "import sys, plans.coverage, plans.periods, plans.onboarding.rules, tickets.vocabulary\n"
        "from plans.vocabulary import Category\n"
        "assert Category.BUG.label.msgid == 'Bug'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask_babel', 'wtforms', 'sqlalchemy')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
