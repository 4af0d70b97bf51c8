"""One submit, one effect: idempotency keys for web forms and API calls.

Every state-changing form carries a key made when the page is rendered (`form_guard()` in the
templates emits it with the CSRF token); an API client sends the `Idempotency-Key` header on POST
and PATCH. A key is scoped: to the logged-in user on the web, to the token in the API, so one
person's key never returns another's result.

How a request with a key runs:

1. **Claim.** Insert a row (scope, key, fingerprint of method, path and body, "in progress") in a
   short transaction of its own; the unique (scope, key) constraint lets exactly one request win,
   on SQLite and PostgreSQL alike.
2. **Run** the request as usual.
3. **Store** a success (status below 400) with the headers that matter (Location, Content-Type)
   and the body; **release** (delete) the claim on anything else (form errors, 4xx, 5xx, an
   exception), so the user can correct and send again.

A request that finds the key taken with the same fingerprint waits (polling, at most
`IDEMPOTENCY_WAIT_SECONDS`) for the first to finish and answers its stored result, marked
`Idempotent-Replayed: true`; it creates nothing. Still unfinished after the wait: 409, retry
later. The same key with a different fingerprint: 422 (the key belongs to another request).
Results are kept 24 hours; expired rows are ignored at once and purged by the claims themselves
(one indexed DELETE at most once a minute per process), so no job is needed.

The window of doubt: a process killed after its change is committed and before the result is
stored leaves an "in progress" row; after `IDEMPOTENCY_LEASE_SECONDS` (longer than any request)
a repeat takes the key over and runs again. Anonymous requests (the login form) and requests
without a key run unguarded, as before: curl and pages rendered before this existed still work.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from flask import Flask, Response, abort, current_app, flash, g, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from sqlalchemy import JSON, Index, Integer, LargeBinary, String, UniqueConstraint, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.clock import utcnow
from helpdesk.dbtypes import UTCDateTime
from helpdesk.extensions import db
from helpdesk.i18n import _

FORM_FIELD = "idempotency_key"
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX = 255
KEY_PATTERN = r"^[!-~]{1,255}$"  # printable ASCII without spaces, as a header value can carry
KEEP = timedelta(hours=24)
PURGE_EVERY_SECONDS = 60.0
POLL_SECONDS = 0.05
STORED_HEADERS = ("Content-Type", "Location", "Content-Disposition")
# Form fields that are not part of what was asked: the key itself, and CSRF tokens (any prefix).
CSRF_FIELD = "csrf_token"

IN_PROGRESS, DONE = "in_progress", "done"
_KEY_RE = re.compile(KEY_PATTERN)
_last_purge = 0.0


class IdempotencyKey(db.Model):
    """A claimed key and, once its request succeeded, the result to answer repeats with."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        Index("ix_idempotency_keys_created_at", "created_at"),  # the purge
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(40))  # "user:7" on the web, "token:3" in the API
    key: Mapped[str] = mapped_column(String(KEY_MAX))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of method, path and body
    state: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    flashes: Mapped[list[list[str]] | None] = mapped_column(JSON)  # web: the messages of the first answer
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- the rule ---------------------------------------------------------------------------------

RUN, REPLAY, MISMATCH, WAIT, EXPIRED, ABANDONED = "run", "replay", "mismatch", "wait", "expired", "abandoned"


def verdict(*, state: str, fingerprint: str, created_at: datetime, asked: str, now: datetime,
            lease: timedelta, keep: timedelta = KEEP) -> str:
    """What a request with fingerprint `asked` does about the row that holds its key.

    Expired rows count as absent; an "in progress" row older than the lease was left by a process
    that died; a different fingerprint is another request under the same key.
    """
    if created_at <= now - keep:
        return EXPIRED
    if fingerprint != asked:
        return MISMATCH
    if state == DONE:
        return REPLAY
    if created_at <= now - lease:
        return ABANDONED
    return WAIT


def valid_key(key: str) -> bool:
    return bool(_KEY_RE.match(key))


def fingerprint(method: str, target: str, parts: Iterable[bytes]) -> str:
    """SHA-256 over the method, path with query, and the body's parts (length-prefixed)."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), target.encode("utf-8", "surrogateescape"), *parts):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


# -- claim, store, release ----------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """The first answer to a key, to answer its repeats with."""

    status: int
    headers: dict[str, str]
    body: bytes
    flashes: list[list[str]]

    def response(self) -> Response:
        response = Response(self.body, status=self.status, headers=self.headers)
        response.headers[REPLAYED_HEADER] = "true"
        response.headers["Cache-Control"] = "no-store"
        return response


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: `claim_id` to run, `stored` to replay, or `refusal`."""

    claim_id: int | None = None
    stored: Stored | None = None
    refusal: str | None = None  # MISMATCH, or WAIT when the first is still running after the wait


def _insert(conn: Any, scope: str, key: str, asked: str, now: datetime) -> int | None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(IdempotencyKey)
        .values(scope=scope, key=key, fingerprint=asked, state=IN_PROGRESS, created_at=now)
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(IdempotencyKey.id)
    )
    return conn.execute(statement).scalar()


def _purge(conn: Any, now: datetime) -> None:
    """Delete expired rows, at most once per PURGE_EVERY_SECONDS in this process (indexed range)."""
    global _last_purge
    if time.monotonic() - _last_purge < PURGE_EVERY_SECONDS:
        return
    _last_purge = time.monotonic()
    conn.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at <= now - KEEP))


def claim(scope: str, key: str, asked: str) -> Claim:
    """Claim `key` in `scope` for a request with fingerprint `asked` (see the module doc)."""
    config = current_app.config
    lease = timedelta(seconds=config["IDEMPOTENCY_LEASE_SECONDS"])
    deadline = time.monotonic() + config["IDEMPOTENCY_WAIT_SECONDS"]
    while True:
        now = utcnow()
        with db.engine.begin() as conn:  # its own short transaction, whatever the request's session holds
            _purge(conn, now)
            claim_id = _insert(conn, scope, key, asked, now)
            if claim_id is not None:
                return Claim(claim_id=claim_id)
            row = conn.execute(
                select(IdempotencyKey.__table__).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
            ).mappings().first()
            if row is None:  # released between our insert and our read: try again
                continue
            found = verdict(state=row["state"], fingerprint=row["fingerprint"], created_at=row["created_at"],
                            asked=asked, now=now, lease=lease)
            if found in (EXPIRED, ABANDONED):
                conn.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row["id"],
                                                          IdempotencyKey.state == row["state"],
                                                          IdempotencyKey.created_at == row["created_at"]))
                continue
            if found == REPLAY:
                return Claim(stored=Stored(row["response_status"], dict(row["response_headers"] or {}),
                                           row["response_body"] or b"", list(row["flashes"] or [])))
            if found == MISMATCH:
                return Claim(refusal=MISMATCH)
        if time.monotonic() >= deadline:
            return Claim(refusal=WAIT)
        time.sleep(POLL_SECONDS)


def store(claim_id: int, response: Response, flashes: list[list[str]] | None = None) -> None:
    """Keep a successful response as the answer to every repeat of its key."""
    headers = {name: response.headers[name] for name in STORED_HEADERS if name in response.headers}
    body = b"" if response.is_streamed else response.get_data()
    with db.engine.begin() as conn:
        conn.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == claim_id, IdempotencyKey.state == IN_PROGRESS)
            .values(state=DONE, response_status=response.status_code, response_headers=headers,
                    response_body=body, flashes=flashes or None)
        )


def release(claim_id: int) -> None:
    """Give the key back: the request failed, so a repeat runs again."""
    with db.engine.begin() as conn:
        conn.execute(delete(IdempotencyKey).where(IdempotencyKey.id == claim_id,
                                                  IdempotencyKey.state == IN_PROGRESS))


def once(scope: str, key: str, asked: str, run: Callable[[], Response]) -> Response:
    """Run `run` once for this key; repeats get the stored result. Raises `Refused` on a misuse."""
    outcome = claim(scope, key, asked)
    if outcome.stored is not None:
        return outcome.stored.response()
    if outcome.claim_id is None:
        raise Refused(outcome.refusal or WAIT)
    try:
        response = run()
    except BaseException:
        db.session.rollback()
        release(outcome.claim_id)
        raise
    db.session.rollback()  # nothing left uncommitted may hold a lock our own connection then waits on (SQLite)
    if response.status_code < 400:
        store(outcome.claim_id, response)
    else:
        release(outcome.claim_id)
    return response


class Refused(Exception):
    """The key cannot be used for this request: MISMATCH (another request's key) or WAIT (busy)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = 422 if reason == MISMATCH else 409

    @property
    def message(self) -> str:
        if self.reason == MISMATCH:
            return _("This idempotency key was already used for a different request. Use a new key for a new request.")
        return _("A request with this idempotency key is still being processed. Try again in a moment.")


# -- the web: a key in every form ----------------------------------------------------------------


def form_guard(form: Any = None) -> Markup:
    """The hidden fields every state-changing form carries: the CSRF token and a fresh key.

    Given a WTForms form, its own CSRF field is written (it may carry a prefix, "start-csrf_token").
    """
    field = getattr(form, "csrf_token", None) if form is not None else None
    csrf = Markup(field()) if field is not None else Markup(
        f'<input type="hidden" name="csrf_token" value="{escape(generate_csrf())}">'
    )
    return csrf + Markup(f'<input type="hidden" name="{FORM_FIELD}" value="{uuid4()}">')


def _form_fingerprint() -> str:
    parts: list[bytes] = []
    for name in sorted(n for n in request.form if n != FORM_FIELD and not n.endswith(CSRF_FIELD)):
        for value in request.form.getlist(name):
            parts += [name.encode(), value.encode("utf-8", "surrogateescape")]
    for name in sorted(request.files):
        for upload in request.files.getlist(name):
            content = upload.stream.read()
            upload.stream.seek(0)
            parts += [name.encode(), (upload.filename or "").encode("utf-8", "surrogateescape"),
                      hashlib.sha256(content).digest()]
    return fingerprint(request.method, request.full_path, parts)


def _web_claim() -> Response | None:
    if request.method != "POST" or request.path.startswith("/api/"):
        return None
    key = (request.form.get(FORM_FIELD) or request.headers.get(HEADER) or "").strip()
    if not key or not current_user.is_authenticated:
        return None  # older pages, scripts, and the login form run as before
    if not valid_key(key):
        abort(400)
    outcome = claim(f"user:{current_user.id}", key, _form_fingerprint())
    if outcome.stored is not None:
        for category, message in outcome.stored.flashes:
            flash(message, category)
        return outcome.stored.response()
    if outcome.claim_id is None:
        if outcome.refusal == MISMATCH:  # the page was sent, then changed (say, after going back)
            abort(422, description=_("This form was already sent with other values."))
        abort(409, description=_("This form is still being sent; wait a moment."))
    g.idempotency_claim = outcome.claim_id
    return None


def _web_store(response: Response) -> Response:
    claim_id = g.pop("idempotency_claim", None)
    if claim_id is None:
        return response
    db.session.rollback()  # anything a view left uncommitted is discarded at teardown anyway
    if response.status_code >= 400:
        release(claim_id)
        return response
    stored = response
    if "no-store" in (response.headers.get("Cache-Control") or ""):
        # A page that must not be kept (it shows a new secret once): repeats see the page anew.
        stored = Response(status=303, headers={"Location": request.path})
    store(claim_id, stored, [list(pair) for pair in session.get("_flashes", [])])
    return response


def _web_release(_error: BaseException | None) -> None:
    claim_id = g.pop("idempotency_claim", None)
    if claim_id is not None:  # the request ended without a response to look at
        db.session.rollback()
        release(claim_id)


def init_app(app: Flask) -> None:
    """Guard every web POST that carries a key, and give templates `form_guard()`."""
    app.jinja_env.globals["form_guard"] = form_guard
    app.before_request(_web_claim)
    app.after_request(_web_store)
    app.teardown_request(_web_release)


def api_fingerprint(raw_body: Any) -> str:
    """The fingerprint of an API request: method, path with query, and the JSON body canonicalised."""
    body = b"" if raw_body is None else json.dumps(
        raw_body, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8", "surrogatepass")
    return fingerprint(request.method, request.full_path, [body])
