"""Words for full-text search, the same everywhere (tickets, help articles): lower case, no
diacritics ("zolw" finds "żółw" and the other way round), whole words, punctuation as spaces."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+")
# Letters with no Unicode decomposition, folded by hand (ł above all).
_FOLD = str.maketrans({"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ß": "ss"})
MAX_TERMS = 12


def fold(text: str) -> str:
    """Lower case without diacritics, as the documents are indexed."""
    decomposed = unicodedata.normalize("NFKD", (text or "").translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def words(text: str, limit: int = MAX_TERMS) -> tuple[str, ...]:
    """The distinct folded words of `text`, in order, at most `limit`."""
    return tuple(dict.fromkeys(_WORD.findall(fold(text))))[:limit]
