"""Real services for the notification tests: an SMTP server, a webhook receiver, Redis, workers.

Nothing here imitates our own code: the SMTP server is aiosmtpd on loopback, the receiver is
http.server on loopback, Redis is a redis-server of the test's own, workers are `flask worker`.
"""

from __future__ import annotations

import asyncio
import email
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {check}")
        time.sleep(interval)


class SmtpSink:
    """aiosmtpd handler that keeps what it accepted and misbehaves on request.

    refuse_data: answer 451 to this many DATA commands first; reject: addresses answered 550;
    hold: when set to an Event, the first message waits (in DATA, before the answer) until the
    Event is set or the client goes away; a client that vanishes never gets its message accepted.
    """

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.lock = threading.Lock()
        self.refuse_data = 0
        self.refused = 0
        self.reject: set[str] = set()
        self.hold: threading.Event | None = None
        self.held = threading.Event()
        self._held_once = False
        port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=port)
        self.url = f"smtp://127.0.0.1:{port}"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.lower() in self.reject:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            if self.refuse_data > 0:
                self.refuse_data -= 1
                self.refused += 1
                return "451 4.3.0 Mailbox busy, try again later"
            hold = self.hold if not self._held_once else None
            self._held_once = self._held_once or hold is not None
        if hold is not None:
            self.held.set()
            while not hold.is_set():
                await asyncio.sleep(0.02)  # cancelled when the client disconnects
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK queued"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for rcpts, m in self.messages if address in rcpts]

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.hold is not None:
            self.hold.set()
        self.controller.stop()


class WebhookReceiver:
    """http.server on loopback that records each POST; answers `fail_first` of them with 500."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_first = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = 200
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    status = 500
                receiver.requests.append({"headers": dict(self.headers), "body": body, "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/opiekun"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def accepted(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["status"] == 200]

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


class RedisServer:
    """A redis-server of the test's own on a free port, which the test may stop and start."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        def up() -> bool:
            try:
                return bool(redis.Redis(port=self.port, socket_connect_timeout=0.2).ping())
            except redis.RedisError:
                return False

        wait_until(up, timeout=10)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


class Workers:
    """`flask worker` processes, each in its own process group (so SIGKILL takes its children)."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / f"worker-{len(self.processes)}.log", "wb")  # noqa: SIM115
        env = {**os.environ, "FLASK_APP": "app", "PYTHONDONTWRITEBYTECODE": "1", **self.env}
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "worker", *extra], cwd=ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.folder.glob("worker-*.log")))

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.kill(process, signal.SIGKILL)
        # Sessions of the killed process group may outlive it (the scheduler child).
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def worker_env(database_url: str, redis_url: str, smtp_url: str | None, outbox: Path, **extra: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret",
        "MAIL_OUTBOX_DIR": str(outbox),
        "MAIL_IN_MAILDIR": str(outbox.parent / "inbox"),
        "NOTIFY_RETRY_INTERVALS": "0,1,1,1",
        "NOTIFY_LEASE_SECONDS": "2",
        "NOTIFY_RELAY_GRACE_SECONDS": "1",
        "NOTIFY_SWEEP_SECONDS": "0.5",
        "SMTP_TIMEOUT": "5",
        "WEBHOOKS_ALLOW_PRIVATE": "1",
    }
    if smtp_url:
        env["SMTP_URL"] = smtp_url
    env.update(extra)
    return env


def webhook_json(request: dict[str, Any]) -> dict[str, Any]:
    return json.loads(request["body"])
