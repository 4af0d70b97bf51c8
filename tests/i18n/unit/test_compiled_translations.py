"""The compiled catalogues (.mo) are committed, so every install path (a clone, `pip install`, a
container build) serves Polish without a compile step; this checks each one says what its .po says.

The .po is compiled afresh into a temporary folder with the command a developer runs, and the two
catalogues are compared by content (messages, plural forms), not by bytes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo

ROOT = Path(__file__).resolve().parents[3]
TRANSLATIONS = ROOT / "translations"
HOW = "run `.venv/bin/pybabel compile -d translations` and commit the .mo"


def _compile(po: Path, folder: Path, text: str | None = None) -> Path:
    """`pybabel compile` of one .po (or of `text` in its place) laid out in a folder of its own,
    as under translations/; the path of the .mo it wrote."""
    target = folder / po.relative_to(TRANSLATIONS)
    target.parent.mkdir(parents=True)
    target.write_text(po.read_text(encoding="utf-8") if text is None else text, encoding="utf-8")
    pybabel = str(Path(sys.executable).with_name("pybabel"))
    subprocess.run([pybabel, "-q", "compile", "-d", str(folder)], check=True)
    return target.with_suffix(".mo")


def _contents(mo: Path) -> tuple[str | None, dict[tuple[str | None, object], object]]:
    with mo.open("rb") as handle:
        catalog = read_mo(handle)
    messages = {(message.context, _plain(message.id)): _plain(message.string) for message in catalog if message.id}
    return catalog.plural_forms, messages


def _plain(value: object) -> object:
    """A plural message's forms come as a list: a tuple, to be a key and compare alike."""
    return tuple(value) if isinstance(value, list | tuple) else value


def _catalogues() -> list[Path]:
    found = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/*.po"))
    assert found, "no catalogue found under translations/"
    return found


@pytest.mark.parametrize("po", _catalogues(), ids=lambda po: po.parts[-3])
def test_the_committed_mo_says_what_the_po_says(po: Path, tmp_path: Path) -> None:
    committed = po.with_suffix(".mo")
    assert committed.exists(), f"{committed.relative_to(ROOT)} is missing: {HOW}"
    fresh = _compile(po, tmp_path)
    plural_forms, messages = _contents(committed)
    fresh_plural_forms, fresh_messages = _contents(fresh)
    assert len(fresh_messages) > 800  # the compile did read the catalogue
    assert plural_forms == fresh_plural_forms, HOW
    stale = sorted(
        str(key[1]) for key in fresh_messages.keys() | messages.keys() if fresh_messages.get(key) != messages.get(key)
    )
    assert stale == [], f"{committed.relative_to(ROOT)} is out of date ({len(stale)} messages differ): {HOW}"


def test_control_a_changed_translation_makes_the_mo_out_of_date(tmp_path: Path) -> None:
    """The comparison above can fail: one msgstr changed in a copy of the .po shows as a difference."""
    po = TRANSLATIONS / "pl" / "LC_MESSAGES" / "messages.po"
    text = po.read_text(encoding="utf-8")
    old = 'msgstr "Zaloguj się"'
    assert old in text
    edited = _compile(po, tmp_path, text.replace(old, 'msgstr "Wejdź"', 1))
    _, committed = _contents(po.with_suffix(".mo"))
    _, fresh = _contents(edited)
    differ = [key[1] for key in committed if committed[key] != fresh.get(key)]
    assert differ == ["Log in"]
