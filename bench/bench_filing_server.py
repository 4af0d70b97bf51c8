"""Filing under gunicorn, measured by what does not depend on the machine's load.

Serves a copy of a seeded SQLite database (never the original: the three files are copied to a
temporary folder) under gunicorn, as `bench/run` does (embedded default: no Redis, e-mails
written to a folder, API_RATE_LIMIT raised), files N tickets through the client web form or the
API with a Python client, one request at a time, and reads per filing:

- CPU ms of the gunicorn worker (user + system from /proc, the e-mails after the response
  included: everything the worker spends on a filing);
- SQL statements, commits, and the wall ms spent inside statements and commits beyond their
  CPU (waiting for SQLite's write lock, or the disk), counted by SQLAlchemy events in the worker.

With `--workers 2 --clients 4` the filings run concurrently (the lock-wait column then shows the
second writer's waits); the CPU column stays per filing. `--profile FILE` writes a cProfile of the
measured requests in the worker (`--workers 1`). The seeded database comes from
`flask demo seed --tickets N` (bench/run keeps one as bench/.data/opiekun-N.sqlite3) and a token
of client@acme.example (`flask tokens create`).

    .venv/bin/python bench/bench_filing_server.py --database bench/.data/opiekun-10000.sqlite3 \
        --token opk_... [--count 300] [--pages web,api] [--workers 1] [--clients 1] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
USER_AGENT = "bench-run/1"
PASSWORD = "opiekun-demo"
WARM_UP = 20
TICKS = os.sysconf("SC_CLK_TCK")

# Loaded by gunicorn (-c): counts in each worker, reset by a request carrying X-Bench-Reset and
# written to BENCH_COUNTS_DIR/<pid>.json when the worker exits.
GUNICORN_CONFIG = r'''
import cProfile, json, os, time

state = {"statements": 0, "commits": 0, "waited_ms": 0.0, "requests": 0}
profile = {"on": None}
# The write lock's turns in this worker: [asked, got, given back] (CLOCK_MONOTONIC: the same in
# every process), to find how long the lock sat free while a writer waited (bench: idle_lock_ms).
turns = []


def post_fork(server, worker):
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    started = {}

    @event.listens_for(Engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):
        state["statements"] += 1
        started[id(cursor)] = (time.perf_counter(), time.thread_time())
        raw = conn.connection.driver_connection
        if not raw.in_transaction and statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            turns.append([time.monotonic(), None, None])
            conn.info["turn"] = turns[-1]

    @event.listens_for(Engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        turn = conn.info.get("turn")
        if turn is not None and turn[1] is None:
            turn[1] = time.monotonic()
        wall, cpu = started.pop(id(cursor), (None, None))
        if wall is not None:
            state["waited_ms"] += max(0.0, (time.perf_counter() - wall) - (time.thread_time() - cpu)) * 1000

    @event.listens_for(Engine, "commit")
    def commit(conn):
        state["commits"] += 1
        turn = conn.info.pop("turn", None)
        if turn is not None:
            turn[2] = time.monotonic()

    @event.listens_for(Engine, "rollback")
    def rollback(conn):
        turn = conn.info.pop("turn", None)
        if turn is not None:
            turn[2] = time.monotonic()


def pre_request(worker, req):
    if any(name == "X-BENCH-RESET" for name, _ in req.headers):
        for key in state:
            state[key] = 0
        turns.clear()
        if os.environ.get("BENCH_PROFILE") and profile["on"] is None:
            profile["on"] = cProfile.Profile(time.thread_time)
            profile["on"].enable()
    else:
        state["requests"] += 1


def worker_exit(server, worker):
    if profile["on"] is not None:
        profile["on"].disable()
        profile["on"].dump_stats(os.environ["BENCH_PROFILE"])
    path = os.path.join(os.environ["BENCH_COUNTS_DIR"], f"{os.getpid()}.json")
    with open(path, "w") as out:
        json.dump({**state, "turns": [t for t in turns if None not in t]}, out)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def worker_pids(master: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == master:
                    found.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


def form_token(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]+)"', html) or re.search(rf'value="([^"]+)"[^>]*name="{name}"', html)
    if not match:
        raise RuntimeError(f"no {name} in the form")
    return match.group(1)


def measure(page: str, args: argparse.Namespace, folder: Path) -> dict[str, float]:
    data = folder / page
    data.mkdir()
    database = data / "opiekun.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{args.database}{suffix}").exists():
            shutil.copyfile(f"{args.database}{suffix}", f"{database}{suffix}")
    config = folder / "gunicorn_bench.py"
    config.write_text(GUNICORN_CONFIG)
    counts = data / "counts"
    counts.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RATELIMIT_STORAGE_URI", "SMTP_URL")}
    env.update({"DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "bench-only-not-secret",
                "API_RATE_LIMIT": "1000000 per minute", "MAIL_OUTBOX_DIR": str(data / "outbox"),
                "UPLOAD_FOLDER": str(data / "uploads"), "BENCH_COUNTS_DIR": str(counts)})
    if args.profile:
        env["BENCH_PROFILE"] = str(Path(args.profile).resolve()) + f".{page}"
    port = free_port()
    base = f"http://{HOST}:{port}"
    log = open(data / "gunicorn.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [str(Path(args.app_dir) / ".venv" / "bin" / "gunicorn"), "-c", str(config), "--workers", str(args.workers),
         "--worker-class", "sync", "--bind", f"{HOST}:{port}", "--log-level", "warning", "app:app"],
        cwd=args.app_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/login", timeout=10)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"gunicorn did not start; see {data / 'gunicorn.log'}") from None
                time.sleep(0.3)
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        login = form_token(session.get(base + "/login", timeout=30).text, "csrf_token")
        answer = session.post(base + "/login", data={"csrf_token": login, "email": "client@acme.example",
                                                     "password": PASSWORD}, allow_redirects=False, timeout=30)
        assert answer.status_code == 302, answer.status_code
        csrf = form_token(session.get(base + "/portal/tickets/new", timeout=30).text, "csrf_token")
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        if page == "web":
            url, body = base + "/portal/tickets/new", requests.models.RequestEncodingMixin._encode_params({
                "csrf_token": csrf, "subject": "Labels print blank", "description": "Since 9:00 every label is blank.",
                "category": "bug", "priority": "normal"})
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
            expected = 302
        else:
            url, body = base + "/api/v1/tickets", json.dumps({"subject": "Labels print blank", "description": "Since 9:00.",
                                                              "category": "bug", "priority": "normal"})
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {args.token}"}
            expected = 201
        headers["User-Agent"] = USER_AGENT
        if args.key:
            headers["Idempotency-Key"] = "warm-0"

        def file(n: int, key_prefix: str) -> None:
            sent = dict(headers)
            if args.key:
                sent["Idempotency-Key"] = f"{key_prefix}-{n}"
            response = requests.post(url, data=body.encode(), headers=sent, allow_redirects=False, timeout=60)
            if response.status_code != expected or "login" in response.headers.get("Location", ""):
                raise RuntimeError(f"{page}: {response.status_code} {response.text[:300]}")

        for n in range(WARM_UP):
            file(n, "warm")
        workers = worker_pids(server.pid)
        for _ in range(4 * args.workers):  # each worker gets a reset (gunicorn spreads connections)
            requests.get(base + "/bench-reset", headers={"X-Bench-Reset": "1", "User-Agent": USER_AGENT}, timeout=30)
        cpu_before = sum(cpu_seconds(pid) for pid in workers)
        wall = time.perf_counter()
        share = [range(c, args.count, args.clients) for c in range(args.clients)]
        errors: list[BaseException] = []

        def run(numbers: range) -> None:
            try:
                for n in numbers:
                    file(n, "run")
            except BaseException as exc:  # noqa: BLE001  (reported below)
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(numbers,)) for numbers in share]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        time.sleep(0.3)  # the last e-mails after the last response
        wall = time.perf_counter() - wall
        cpu = sum(cpu_seconds(pid) for pid in workers) - cpu_before
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    totals = {"statements": 0, "commits": 0, "waited_ms": 0.0, "requests": 0}
    by_worker = []
    for path in counts.glob("*.json"):
        found = json.loads(path.read_text())
        by_worker.append(found.pop("turns"))
        for key, value in found.items():
            totals[key] += value
    assert totals["requests"] == args.count, totals
    return {"idle_lock_ms": idle_lock(by_worker) * 1000 / args.count, "cpu_ms": cpu * 1000 / args.count, "statements": totals["statements"] / args.count,
            "commits": totals["commits"] / args.count, "lock_wait_ms": totals["waited_ms"] / args.count,
            "filings_per_s": args.count / wall}


def idle_lock(by_worker: list[list[list[float]]]) -> float:
    """Seconds the write lock sat free while a writer of another worker waited for it: from the
    last turn given back during its wait to its own turn (SQLite's busy handler sleeps through it)."""
    idle = 0.0
    for me, mine in enumerate(by_worker):
        others = sorted(t[2] for w, theirs in enumerate(by_worker) if w != me for t in theirs)
        for asked, got, _ in mine:
            released = [r for r in others if asked <= r <= got]
            if released:
                idle += got - released[-1]
    return idle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="a seeded SQLite file (copied, never written)")
    parser.add_argument("--token", required=True, help="an API token of client@acme.example")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--pages", default="web,api")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--key", action="store_true", help="send an Idempotency-Key with every filing")
    parser.add_argument("--app-dir", default=str(ROOT), help="the checkout to serve (another worktree: before/after)")
    parser.add_argument("--profile", help="cProfile output prefix (one file per page)")
    args = parser.parse_args()
    print(f"{args.count} filings a page, gunicorn {args.workers} sync worker(s), {args.clients} client(s), "
          f"load {os.getloadavg()[0]:.1f}{', with Idempotency-Key' if args.key else ''}")
    with tempfile.TemporaryDirectory() as folder:
        for page in args.pages.split(","):
            found = measure(page, args, Path(folder))
            print(f"  {page:<4} CPU {found['cpu_ms']:5.2f} ms  statements {found['statements']:5.1f}  "
                  f"commits {found['commits']:4.2f}  off-CPU in SQL {found['lock_wait_ms']:5.2f} ms  "
                  f"lock idle while wanted {found['idle_lock_ms']:5.2f} ms  "
                  f"({found['filings_per_s']:.0f}/s wall, load-dependent)", flush=True)


if __name__ == "__main__":
    main()
