"""A real uvicorn process for the fault tests, and a small intake load against it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]


def listening_socket() -> socket.socket:
    """A socket bound to a port the kernel picks, to hand to the server process (`uvicorn --fd`).

    The port is never free between choosing and serving, so no other test or suite on the machine
    (several worktrees run suites at once) can take it and answer this test's client instead."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.set_inheritable(True)
    return sock


def free_port() -> int:
    """A port the kernel picks, for a command that cannot take a socket (`motcua serve`); the kernel
    hands out ephemeral ports in turn, so it is not picked again soon."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`uvicorn app.asgi:app --workers N` in its own process group (so SIGKILL takes every worker)."""

    def __init__(self, database_url: str, *, workers: int = 2, env: dict[str, str] | None = None) -> None:
        sock = listening_socket()
        self.port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, "MOTCUA_DATABASE_URL": database_url, "MOTCUA_JWT_SECRET": TEST_SECRET,
                       "MOTCUA_ENV": "test", "MOTCUA_LOG_LEVEL": "CRITICAL", "MOTCUA_PASSWORD_TIME_COST": "1",
                       "MOTCUA_PASSWORD_MEMORY_COST": "1024", "MOTCUA_DB_POOL_SIZE": "5", **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.asgi:app", "--fd", str(sock.fileno()),
             "--workers", str(workers), "--no-access-log", "--log-level", "critical"],
            cwd=ROOT, env=environment, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(sock.fileno(),))
        sock.close()  # the server's copy alone: once it is killed, a client is refused, not left waiting

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.process.returncode}")
            try:
                if httpx.get(self.base + "/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError("uvicorn did not become ready")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


def token(base: str, username: str) -> dict[str, str]:
    response = httpx.post(base + "/api/v1/auth/token", data={"username": username, "password": "demo1234"}, timeout=30)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def intake_body(base: str, headers: dict[str, str], procedure: str = "2.001914") -> dict:
    proc = httpx.get(f"{base}/api/v1/procedures/{procedure}", headers=headers, timeout=30).json()
    return {"procedure_code": procedure, "channel": "direct",
            "applicant": {"full_name": "Nguyễn Văn Lỗi", "id_number": "001099012345", "phone": "0912345678"},
            "documents": [{"name": d["name"], "kind": d["kind"], "count": d["count"]} for d in proc["required_documents"]],
            "return_method": "desk"}


@dataclass
class Load:
    """Threads that POST intakes until stopped; what the clients were told is kept."""

    base: str
    headers: dict[str, str]
    body: dict
    threads: int = 6
    acknowledged: list[str] = field(default_factory=list)  # codes answered with 201
    outcomes: dict[str, int] = field(default_factory=dict)  # status (or exception name) -> count
    slowest: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        for _ in range(self.threads):
            t = threading.Thread(target=self._run, daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=15) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    response = client.post("/api/v1/dossiers", json=self.body, headers=self.headers)
                    key = str(response.status_code)
                    if response.status_code == 201:
                        with self._lock:
                            self.acknowledged.append(response.json()["code"])
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                    time.sleep(0.05)
                with self._lock:
                    self.outcomes[key] = self.outcomes.get(key, 0) + 1
                    self.slowest = max(self.slowest, time.monotonic() - started)

    def stop(self) -> None:
        self._stop.set()
        for t in self._workers:
            t.join(timeout=30)
