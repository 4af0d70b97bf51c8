"""Page benchmark behind `bench/run`: Opiekun, django-helpdesk and a bare Flask "hello", same load.

For each database (SQLite, PostgreSQL) and each size it seeds Opiekun (`flask demo seed`) and
django-helpdesk (bulk_create, in its own virtualenv under bench/.peer/), serves each under
gunicorn with the same sync workers on 127.0.0.1, drives every page with wrk for a fixed time
(POSTs through a generated Lua script, logged-in pages with the session cookie of a real login)
and prints one table: req/s, p50, p99, the ratio to the hello ceiling, the p50 ratio of the
biggest size to the smallest, and the ratio to the peer's matching page. The table goes to
bench/results/<date>-<host>.md with the cores and load average.

Opiekun runs as the embedded default (no REDIS_URL: notifications delivered inline) with the
API rate limit raised by its documented setting, API_RATE_LIMIT. Databases are kept between
runs under bench/.data/ (SQLite) or as opiekun_bench_<N>/peer_bench_<N> (PostgreSQL) and only
topped up, so a second run does not seed again; --fresh starts them over.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DATA = BENCH / ".data"
PEER = BENCH / ".peer"
PEER_SRC = BENCH / "peer"
VENV_BIN = ROOT / ".venv" / "bin"
PEER_BIN = PEER / "venv" / "bin"
PEER_REQUIREMENTS = ("django-helpdesk==2.6.1", "Django==5.2.19", "pinax-teams==3.0.1", "pinax-invitations==8.0.1",
                     "django-user-accounts==3.3.2", "gunicorn==27.0.1", "psycopg[binary]==3.3.9")
HOST = "127.0.0.1"
USER_AGENT = "bench-run/1"  # the same for the login and the load: Flask-Login's "strong" protection hashes it
PASSWORD = "opiekun-demo"

# Our page -> the peer's page it is compared with.
PAGES = {
    "file (web form)": "public submit",
    "file (API)": "public submit",
    "agent queue": "list data",
    "ticket view": "ticket view",
    "manager home": "dashboard",
}
# The queue in its other sorts and filters, and the reports: pages that must stay flat from the
# smallest size to the biggest (the p50 ratio is checked against --goal); no peer page for them.
QUEUE_VARIANTS = {
    "queue: due": "/agent/queue?sort=due",
    "queue: all statuses": "/agent/queue?status=all",
    "queue: status new": "/agent/queue?status=new",
    "queue: category bug": "/agent/queue?category=bug",
    "queue: priority urgent": "/agent/queue?priority=urgent",
    "queue: client": "/agent/queue?client=acme",
    "queue: unassigned": "/agent/queue?assignee=none",
    "queue: assignee": "/agent/queue?assignee={agent_id}&status=all",
    "queue: breached": "/agent/queue?breached=1",
    "queue: breaching 24 h": "/agent/queue?breaching_within=24&sort=due",
}
REPORTS = {"SLA report": "/manager/sla/", "SLA report by client": "/manager/sla/?by=client",
           "usage report": "/manager/usage"}
PAGES.update(dict.fromkeys(QUEUE_VARIANTS, ""))
PAGES.update(dict.fromkeys(REPORTS, ""))
PAGE_KEYS = {"file-web": "file (web form)", "file-api": "file (API)", "queue": "agent queue",
             "view": "ticket view", "manager": "manager home"}
PAGE_GROUPS = {  # --pages accepts these too
    "queues": list(QUEUE_VARIANTS),
    "reports": list(REPORTS),
    "reads": ["agent queue", *QUEUE_VARIANTS, "ticket view", "manager home", *REPORTS],
}
FLAT = ("agent queue", *QUEUE_VARIANTS, "ticket view", "manager home", *REPORTS)


@dataclass
class Result:
    app: str  # opiekun, peer, hello
    database: str
    size: int
    page: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx/3xx answers and socket errors
    rows: int | None = None  # queue rows the page rendered (the probe's answer), None for other pages


# -- load ------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("Installing wrk (Debian package)...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, timeout=600)
    return shutil.which("wrk") or "wrk"


def probe(url: str, *, method: str, body: str, headers: dict[str, str]) -> int | None:
    """One request as wrk will send it: it must do the page's work, not bounce to the login page.

    Returns how many queue rows the answer holds (None when it is not a queue), so that a page whose
    smallest size renders fewer rows than its biggest is not mistaken for the same work.
    """
    response = requests.request(method, url, data=body.encode() or None, headers=headers, timeout=60,
                                allow_redirects=False)
    location = response.headers.get("Location", "")
    done = response.status_code == 200 if method == "GET" else (
        response.status_code == 201 or 300 <= response.status_code < 400)  # a form shown again is a refusal
    if not done or "login" in location:
        raise RuntimeError(f"{method} {url} answered {response.status_code} {location} {response.text[:300]}")
    return response.text.count("<tr data-ticket=") if "/agent/queue" in url else None


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(out: str) -> tuple[float, float, float, int]:
    """req/s, p50 ms, p99 ms and errors (non-2xx/3xx answers, socket errors) from `wrk --latency`.

    A page slower than the run finishes no request: its percentiles are NaN (shown as "-").
    """
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    finished = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1)) if finished else math.nan
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1)) if finished else math.nan
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return rps, p50, p99, errors


def wrk(url: str, *, duration: int, connections: int, cookie: str = "", method: str = "GET",
        body: str = "", headers: dict[str, str] | None = None) -> tuple[float, float, float, int, int | None]:
    """req/s, p50 ms, p99 ms, errors of `duration` seconds of load on one URL, and the probe's queue rows."""
    assert url.startswith(f"http://{HOST}:"), url  # load goes to the loopback only
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    if cookie:
        all_headers["Cookie"] = cookie
    rows = probe(url, method=method, body=body, headers=all_headers)
    lines = [f"wrk.method = {json.dumps(method)}", f"wrk.body = {json.dumps(body)}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in all_headers.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    try:
        out = subprocess.run(
            [WRK, "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s", "-s", script.name, url],
            capture_output=True, text=True, timeout=duration + 60, check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    return (*parse_wrk(out), rows)


# -- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """gunicorn with `workers` sync workers on 127.0.0.1, stopped by its own pid."""

    def __init__(self, gunicorn: Path, target: str, *, cwd: Path, env: dict[str, str], workers: int) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log = open(DATA / f"gunicorn-{self.port}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(gunicorn), "--workers", str(workers), "--worker-class", "sync", "--bind", f"{HOST}:{self.port}",
             "--log-level", "warning", target],
            cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn {target} exited; see {self.log.name}")
            try:
                requests.get(self.url + "/", timeout=10, allow_redirects=False)
                return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"gunicorn {target} did not answer within 60 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def cookie_header(session: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


def form_token(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]+)"', html) or re.search(
        rf'value="([^"]+)"[^>]*name="{name}"', html)
    if not match:
        raise RuntimeError(f"no {name} in the form")
    return match.group(1)


# -- Opiekun ---------------------------------------------------------------------------------


def postgres_database(base_url: str, name: str, fresh: bool) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(base_url)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if fresh:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def opiekun_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RATELIMIT_STORAGE_URI", "SMTP_URL")}
    env.update({
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-only-not-secret",
        "API_RATE_LIMIT": "1000000 per minute",  # the documented setting that raises the per-token limit
        "MAIL_OUTBOX_DIR": str(DATA / "outbox"),
        "UPLOAD_FOLDER": str(DATA / "uploads"),
    })
    return env


def flask(env: dict[str, str], *args: str, timeout: int = 3600) -> str:
    result = subprocess.run([str(VENV_BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result.stdout


def middle_ticket(database_url: str, table: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        low, high = conn.execute(text(f"SELECT min(id), max(id) FROM {table}")).one()
    engine.dispose()
    return (low + high) // 2


def prepare_opiekun(database: str, size: int, args: argparse.Namespace) -> tuple[dict[str, str], str]:
    if database == "sqlite":
        path = DATA / f"opiekun-{size}.sqlite3"
        if args.fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        url = postgres_database(args.postgres_url, f"{args.pg_prefix}_{size}", args.fresh)
    env = opiekun_env(url)
    print(f"  Opiekun on {database}: migrating and seeding {size:,} tickets...", flush=True)
    flask(env, "db", "upgrade")
    started = time.monotonic()
    flask(env, "demo", "seed", "--tickets", str(size))
    print(f"  seed: {time.monotonic() - started:.0f} s (when already seeded: start-up and ANALYZE only)", flush=True)
    token_file = DATA / f"token-{database}-{size}.txt"
    if args.fresh or not token_file.exists():
        token_file.write_text(flask(env, "tokens", "create", "--email", "client@acme.example", "--name",
                                    f"bench {datetime.now(UTC):%Y-%m-%d %H:%M}").strip().splitlines()[-1])
    return env, url


def new_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


def opiekun_login(base: str, email: str) -> requests.Session:
    session = new_session()
    token = form_token(session.get(base + "/login", timeout=30).text, "csrf_token")
    response = session.post(base + "/login", data={"csrf_token": token, "email": email, "password": PASSWORD},
                            timeout=30, allow_redirects=False)
    if response.status_code != 302:
        raise RuntimeError(f"login as {email} answered {response.status_code}")
    return session


def measure_pages(system: str, server: Server, runs: dict[str, dict], wanted: set[str], database: str, size: int,
                  args: argparse.Namespace) -> list[Result]:
    """Load each wanted page of `runs` with wrk against a running server; one Result a page, printed as it comes."""
    results = []
    for page, run in runs.items():
        if page not in wanted:
            continue
        target = server.url + run.pop("url")
        results.append(Result(system, database, size, page,
                              *wrk(target, duration=args.duration, connections=args.connections, **run)))
        print(f"    {page:<16} {results[-1].rps:8.1f} req/s  p50 {results[-1].p50_ms:8.1f} ms", flush=True)
    return results


def agent_id(database_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        found = conn.execute(text("SELECT id FROM users WHERE email = 'agent@opiekun.example'")).scalar_one()
    engine.dispose()
    return found


def measure_opiekun(database: str, size: int, args: argparse.Namespace) -> list[Result]:
    env, url = prepare_opiekun(database, size, args)
    shutil.rmtree(DATA / "outbox", ignore_errors=True)
    token = (DATA / f"token-{database}-{size}.txt").read_text().strip()
    ticket_id = middle_ticket(url, "tickets")
    agent_user = agent_id(url)
    server = Server(VENV_BIN / "gunicorn", "app:app", cwd=ROOT, env=env, workers=args.workers)
    try:
        client = opiekun_login(server.url, "client@acme.example")
        agent = opiekun_login(server.url, "agent@opiekun.example")
        manager = opiekun_login(server.url, "manager@opiekun.example")
        csrf = form_token(client.get(server.url + "/portal/tickets/new", timeout=30).text, "csrf_token")
        form = requests.models.RequestEncodingMixin._encode_params({
            "csrf_token": csrf, "subject": "Labels print blank", "description": "Since 9:00 every label is blank.",
            "category": "bug", "priority": "normal"})
        api_body = json.dumps({"subject": "Labels print blank", "description": "Since 9:00.", "category": "bug",
                               "priority": "normal"})
        runs = {
            "file (web form)": dict(url="/portal/tickets/new", cookie=cookie_header(client), method="POST", body=form,
                                    headers={"Content-Type": "application/x-www-form-urlencoded"}),
            "file (API)": dict(url="/api/v1/tickets", method="POST", body=api_body,
                               headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"}),
            "agent queue": dict(url="/agent/queue", cookie=cookie_header(agent)),
            "ticket view": dict(url=f"/agent/tickets/{ticket_id}", cookie=cookie_header(agent)),
            "manager home": dict(url="/manager/", cookie=cookie_header(manager)),
        }
        for page, path in QUEUE_VARIANTS.items():
            runs[page] = dict(url=path.format(agent_id=agent_user), cookie=cookie_header(agent))
        for page, path in REPORTS.items():
            runs[page] = dict(url=path, cookie=cookie_header(manager))
        results = measure_pages("opiekun", server, runs, set(args.pages), database, size, args)
    finally:
        server.stop()
    return results


# -- django-helpdesk -------------------------------------------------------------------------


def ensure_peer() -> None:
    marker = PEER / "installed.txt"
    if marker.exists() and marker.read_text().split() == list(PEER_REQUIREMENTS):
        return
    print("Installing django-helpdesk in bench/.peer/venv ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEER / "venv")], check=True, timeout=300)
    subprocess.run([str(PEER_BIN / "pip"), "install", "-q", *PEER_REQUIREMENTS], check=True, timeout=1800)
    marker.write_text("\n".join(PEER_REQUIREMENTS))


def peer_env(database: str, size: int, args: argparse.Namespace) -> tuple[dict[str, str], str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "settings"}
    if database == "sqlite":
        path = DATA / f"peer-{size}.sqlite3"
        if args.fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        env["PEER_SQLITE"] = str(path)
        return env, f"sqlite:///{path}"
    url = postgres_database(args.postgres_url, f"peer_bench_{size}", args.fresh)
    env["PEER_PG_NAME"] = f"peer_bench_{size}"
    return env, url


def measure_peer(database: str, size: int, args: argparse.Namespace) -> list[Result]:
    ensure_peer()
    env, url = peer_env(database, size, args)
    print(f"  django-helpdesk on {database}: migrating and seeding {size:,} tickets...", flush=True)
    py = str(PEER_BIN / "python")
    subprocess.run([py, "-m", "django", "migrate", "-v0"], cwd=PEER_SRC, env=env, check=True, timeout=1800)
    subprocess.run([py, "seed.py", str(size)], cwd=PEER_SRC, env=env, check=True, timeout=3600)
    ticket_id = middle_ticket(url, "helpdesk_ticket")
    server = Server(PEER_BIN / "gunicorn", "wsgi:application", cwd=PEER_SRC, env=env, workers=args.workers)
    try:
        staff = new_session()
        login = staff.get(server.url + "/login/", timeout=30).text
        response = staff.post(server.url + "/login/", timeout=30, allow_redirects=False, data={
            "csrfmiddlewaretoken": form_token(login, "csrfmiddlewaretoken"), "username": "agent",
            "password": "bench-password"})
        if response.status_code != 302:
            raise RuntimeError(f"peer login answered {response.status_code}")
        public = new_session()
        submit = public.get(server.url + "/helpdesk/tickets/submit/", timeout=30).text
        form = requests.models.RequestEncodingMixin._encode_params({
            "csrfmiddlewaretoken": form_token(submit, "csrfmiddlewaretoken"), "title": "Labels print blank",
            "body": "Since 9:00 every label is blank.", "submitter_email": "client@example.com",
            "queue": "1", "priority": "3"})
        query = base64.b64encode(json.dumps({"filtering": {"status__in": [1, 2]}, "sorting": "created",
                                             "search_string": "", "sortreverse": False}).encode()).decode()
        runs = {
            "public submit": dict(url="/helpdesk/tickets/submit/", cookie=cookie_header(public), method="POST",
                                  body=form, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                      "Referer": server.url + "/helpdesk/tickets/submit/"}),
            "list data": dict(url=f"/helpdesk/datatables_ticket_list/{query}?draw=1&start=0&length=50",
                              cookie=cookie_header(staff)),
            "ticket view": dict(url=f"/helpdesk/tickets/{ticket_id}/", cookie=cookie_header(staff)),
            "dashboard": dict(url="/helpdesk/dashboard/", cookie=cookie_header(staff)),
        }
        results = measure_pages("peer", server, runs, {PAGES[p] for p in args.pages}, database, size, args)
    finally:
        server.stop()
    return results


def measure_hello(args: argparse.Namespace) -> Result:
    server = Server(VENV_BIN / "gunicorn", "hello:app", cwd=BENCH, env=dict(os.environ), workers=args.workers)
    try:
        result = Result("hello", "-", 0, "hello", *wrk(server.url + "/", duration=args.duration,
                                                          connections=args.connections))
    finally:
        server.stop()
    print(f"  hello {result.rps:8.1f} req/s", flush=True)
    return result


# -- the table -------------------------------------------------------------------------------


def _count(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else (
        f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n))


def _number(value: float, digits: int) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def table(results: list[Result], hello: Result) -> str:
    def find(app: str, database: str, size: int, page: str) -> Result | None:
        return next((r for r in results if (r.app, r.database, r.size, r.page) == (app, database, size, page)), None)

    sizes = sorted({r.size for r in results if r.app != "hello"})
    rows = ["| database | tickets | page | req/s | p50 ms | p99 ms | x hello | p50 big/small | x peer | errors |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if r.app == "hello":
            continue
        name = r.page if r.app == "opiekun" else f"django-helpdesk: {r.page}"
        small = find(r.app, r.database, sizes[0], r.page)
        growth = ""
        if small and r.size != sizes[0]:
            ratio = r.p50_ms / small.p50_ms if small.p50_ms else math.nan
            growth = f"{_number(ratio, 2)} ({_count(r.size)}/{_count(sizes[0])})"
        peer = find("peer", r.database, r.size, PAGES.get(r.page, "")) if r.app == "opiekun" else None
        versus = "" if peer is None else _number(r.rps / peer.rps, 2) if peer.rps else "peer: none finished"
        rows.append(f"| {r.database} | {r.size:,} | {name} | {r.rps:.1f} | {_number(r.p50_ms, 1)} | "
                    f"{_number(r.p99_ms, 1)} | {r.rps / hello.rps:.4f} | {growth} | {versus} | {r.errors or ''} |")
    rows.append(f"| - | - | bare Flask hello (ceiling) | {hello.rps:.1f} | {hello.p50_ms:.2f} | {hello.p99_ms:.2f} "
                f"| 1 | | | {hello.errors or ''} |")
    return "\n".join(rows)


def flatness(results: list[Result], goal: float) -> tuple[str, bool]:
    """The p50 ratio biggest/smallest size of every page that must stay flat; whether all meet `goal`."""
    lines, ok = [], True
    for database in sorted({r.database for r in results if r.app == "opiekun"}):
        sizes = sorted({r.size for r in results if r.app == "opiekun" and r.database == database})
        if len(sizes) < 2:
            continue
        for page in FLAT:
            small = next((r for r in results if (r.app, r.database, r.size, r.page) == ("opiekun", database, sizes[0], page)), None)
            big = next((r for r in results if (r.app, r.database, r.size, r.page) == ("opiekun", database, sizes[-1], page)), None)
            if small is None or big is None:
                continue
            ratio = big.p50_ms / small.p50_ms if small.p50_ms else math.nan
            met = not math.isnan(ratio) and ratio <= goal
            ok = ok and met
            rows = "" if small.rows is None else f"{small.rows} / {big.rows}"
            lines.append(f"| {database} | {page} | {_number(small.p50_ms, 1)} | {_number(big.p50_ms, 1)} | "
                         f"{_number(ratio, 2)} ({_count(sizes[-1])}/{_count(sizes[0])}) | {rows} | {'yes' if met else 'NO'} |")
    if not lines:
        return "", True
    head = [f"| database | page | p50 ms small | p50 ms big | ratio | rows small / big | <= {goal} |",
            "|---|---|---:|---:|---:|---:|---|"]
    return "\n".join(head + lines), ok


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="ticket counts, comma-separated (default 10000,100000)")
    parser.add_argument("--databases", default="sqlite", help="sqlite,postgresql (default sqlite)")
    parser.add_argument("--duration", type=int, default=15, help="seconds of load per page (default 15)")
    parser.add_argument("--pages", default="all",
                        help="all, or some of " + ",".join([*PAGE_KEYS, *PAGE_GROUPS]) + " (groups: queues, reports, reads)")
    parser.add_argument("--goal", type=float, default=1.3,
                        help="largest p50 ratio biggest/smallest size allowed for the read pages (default 1.3)")
    parser.add_argument("--pg-prefix", default="opiekun_bench",
                        help="PostgreSQL databases are named PREFIX_<size> (default opiekun_bench)")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (default 4, one wrk thread)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--no-peer", action="store_true", help="skip django-helpdesk")
    parser.add_argument("--fresh", action="store_true", help="drop the kept benchmark databases and seed again")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    args.sizes = sorted(int(s) for s in args.sizes.split(","))
    args.databases = [d.strip().replace("postgres", "postgresql").replace("postgresqlql", "postgresql")
                      for d in args.databases.split(",")]
    unknown = set(args.databases) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown database {sorted(unknown)}")
    if args.pages == "all":
        args.pages = list(PAGES)
    else:
        wanted = []
        for key in args.pages.split(","):
            if key not in PAGE_KEYS and key not in PAGE_GROUPS:
                parser.error(f"unknown page {key!r}")
            wanted += PAGE_GROUPS.get(key) or [PAGE_KEYS[key]]
        args.pages = wanted
    if args.postgres_url.startswith(("postgres://", "postgresql://")):
        args.postgres_url = "postgresql+psycopg://" + args.postgres_url.split("://", 1)[1]

    global WRK
    WRK = ensure_wrk()
    DATA.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    started = datetime.now(UTC)
    print(f"bench/run on {socket.gethostname()}: {os.cpu_count()} cores, load {load_before[0]:.2f}", flush=True)
    hello = measure_hello(args)
    results: list[Result] = []
    for database in args.databases:
        for size in args.sizes:
            results += measure_opiekun(database, size, args)
            if not args.no_peer:
                results += measure_peer(database, size, args)
    load_after = os.getloadavg()
    text = table(results, hello)
    header = (f"# Page benchmark {started:%Y-%m-%d %H:%M} UTC on {socket.gethostname()}\n\n"
              f"{os.cpu_count()} cores; load average (1/5/15 min) {' '.join(f'{x:.2f}' for x in load_before)} "
              f"before, {' '.join(f'{x:.2f}' for x in load_after)} after. gunicorn {args.workers} sync workers, "
              f"wrk -t1 -c{args.connections} -d{args.duration}s, 127.0.0.1. Opiekun embedded default (no Redis, "
              "notifications inline), API_RATE_LIMIT raised; django-helpdesk 2.6.1 on the same database. "
              "x hello and x peer are req/s ratios; p50 big/small is the p50 at this size over the smallest; "
              "\"-\" where no request finished within the run.\n\n"
              f"    bench/run {' '.join(sys.argv[1:])}\n\n")
    flat, flat_ok = flatness(results, args.goal)
    if flat:
        text += f"\n\nFlat from the smallest size to the biggest (p50 ratio, goal <= {args.goal}):\n\n" + flat
    out = BENCH / "results" / f"{started:%Y-%m-%d-%H%M}-{socket.gethostname()}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(header + text + "\n")
    print()
    print(text)
    print(f"\nWritten to {out.relative_to(ROOT)}")
    if not flat_ok:
        print(f"Some pages grow more than {args.goal}x from the smallest size to the biggest.", file=sys.stderr)
        sys.exit(1)


WRK = "wrk"

if __name__ == "__main__":
    main()
