"""Sample inputs shared by the integration and browser tests: real file bytes, form tokens."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ELF_BYTES = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real, valid PNG image (grey pixels), built from scratch."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def csrf_token(html: bytes | str) -> str:
    """The CSRF token of the first form in a page."""
    text = html.decode() if isinstance(html, bytes) else html
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text)
    assert match, "no csrf_token in the page"
    return match.group(1)


def text_of(response: Any) -> str:
    return response.get_data(as_text=True)


@contextmanager
def recorded_statements(engine: Any) -> Iterator[list[str]]:
    """Every SQL statement `engine` sends while the block runs, in order (counting round trips)."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
