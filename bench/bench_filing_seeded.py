"""Filing in process on a seeded database: SQL statements and CPU ms per filing, web form or API.

Runs N filings (the client web form or the API, the e-mails written after each response included)
through the app's WSGI interface in one process, on a copy of a seeded SQLite database (the three
files copied to a temporary folder; the original is never written), after a warm-up. The measured
loop runs inside one `exec()`, so a profiler or a wrapper can tell it from the start-up.
BENCH_APP_DIR serves another checkout (the code before a change) with the same script.

    .venv/bin/python bench/bench_filing_seeded.py --database bench/.data/opiekun-10000.sqlite3 --page web --count 100
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("BENCH_APP_DIR", str(ROOT)))  # another checkout: before/after


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--page", choices=("web", "api"), default="web")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--warm-up", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    try:
        database = folder / "opiekun.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{args.database}{suffix}").exists():
                shutil.copyfile(f"{args.database}{suffix}", f"{database}{suffix}")
        os.environ.update(DATABASE_URL=f"sqlite:///{database}", SECRET_KEY="bench-only-not-secret",
                          MAIL_OUTBOX_DIR=str(folder / "outbox"), UPLOAD_FOLDER=str(folder / "uploads"),
                          API_RATE_LIMIT="1000000 per minute")
        for name in ("REDIS_URL", "RATELIMIT_STORAGE_URI", "SMTP_URL"):
            os.environ.pop(name, None)
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        from app import create_app
        from helpdesk.api.tokens import issue_token
        from helpdesk.extensions import db

        app = create_app()
        counted = [0]
        event.listen(Engine, "before_cursor_execute", lambda *a: counted.__setitem__(0, counted[0] + 1))
        client = app.test_client()
        client.environ_base["HTTP_USER_AGENT"] = "bench"
        if args.page == "web":
            csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True))[1]
            client.post("/login", data={"csrf_token": csrf, "email": "client@acme.example", "password": "opiekun-demo"})
            csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                             client.get("/portal/tickets/new").get_data(as_text=True))[1]
            url, kwargs, expected = "/portal/tickets/new", {"data": {
                "csrf_token": csrf, "subject": "Labels print blank", "description": "Since 9:00 every label is blank.",
                "category": "bug", "priority": "normal"}}, 302
        else:
            from sqlalchemy import select

            from helpdesk.accounts import User
            with app.app_context():
                user = db.session.scalars(select(User).where(User.email == "client@acme.example")).one()
                _, secret = issue_token(user, "bench")
                db.session.commit()
            url, kwargs, expected = "/api/v1/tickets", {
                "json": {"subject": "Labels print blank", "description": "Since 9:00.", "category": "bug",
                         "priority": "normal"},
                "headers": {"Authorization": f"Bearer {secret}"}}, 201

        def file() -> None:
            response = client.post(url, buffered=False, **kwargs)
            response.get_data()
            assert response.status_code == expected, response.status_code
            response.close()  # the e-mails, after the response

        for _ in range(args.warm_up):
            file()
        counted[0] = 0
        cpu = time.process_time()
        exec("for _ in range(count):\n    file()", {"file": file, "count": args.count})
        cpu = time.process_time() - cpu
        print(f"{args.page}: {counted[0] / args.count:.1f} statements, {cpu * 1000 / args.count:.2f} ms CPU per filing")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
