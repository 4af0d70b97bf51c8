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
def recorded_statements(engine: Any, *, parameters: bool = False) -> Iterator[list[Any]]:
    """Every SQL statement `engine` sends while the block runs, in order (counting round trips);
    with `parameters`, each as (statement, parameters)."""
    from sqlalchemy import event

    seen: list[Any] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        seen.append((statement, params) if parameters else statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def history_shared_by_two_agents(world: Any, count: int) -> None:
    """`count` demo tickets with their history (tickets.demo_bulk.seed_history), every second one
    assigned to world.agent and every third to world.agent2, committed: a queue with many rows,
    clients and assignees."""
    from sqlalchemy import update

    from helpdesk.extensions import db
    from tickets.demo_bulk import seed_history
    from tickets.models import Ticket

    seed_history(count, extra_clients=False)
    db.session.execute(update(Ticket).where(Ticket.id % 2 == 0).values(assignee_id=world.agent.id))
    db.session.execute(update(Ticket).where(Ticket.id % 3 == 0).values(assignee_id=world.agent2.id))
    db.session.commit()
