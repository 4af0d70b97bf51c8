"""@mentions in internal notes. Pure: which staff members a note's text names.

A mention is `@` followed by a staff member's login: their e-mail address
(`@anna@opiekun.example`) or, when it is unambiguous among the staff, the part before the `@`
(`@anna`). It must start the text or follow a character that is not a letter, digit or `@`
(so an e-mail address written in a note is no mention). Case does not matter; a trailing
full stop or comma ends the mention.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9._%+-]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)")


def mentioned_logins(text: str) -> list[str]:
    """The logins mentioned in `text`, lower-cased, each once, in order of appearance."""
    found = []
    for match in _MENTION.finditer(text):
        login = match.group(1).rstrip(".,-").lower()
        if login:
            found.append(login)
    return list(dict.fromkeys(found))


def resolve_mentions(logins: Iterable[str], staff: Iterable[tuple[int, str]]) -> list[int]:
    """The ids of the staff (id, e-mail) the logins name: a whole address, or a local part that
    exactly one staff member has. Unknown or ambiguous logins name nobody."""
    by_address: dict[str, int] = {}
    by_local: dict[str, list[int]] = {}
    for user_id, email in staff:
        address = email.lower()
        by_address[address] = user_id
        by_local.setdefault(address.split("@", 1)[0], []).append(user_id)
    ids = []
    for login in logins:
        if login in by_address:
            ids.append(by_address[login])
        elif len(by_local.get(login, [])) == 1:
            ids.append(by_local[login][0])
    return list(dict.fromkeys(ids))
