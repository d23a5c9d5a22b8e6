"""Shared pieces of the benchmarks: the machine, API servers, a load generator in another process,
peak memory, results.

Every benchmark prints what it measured, the machine (`nproc`, memory, load average before and
after) and a ratio to a baseline measured in the same run, and appends its result as one JSON line
to bench/results/<name>.jsonl.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
sys.path.insert(0, str(ROOT))


# --- the machine ----------------------------------------------------------------------------------

def meminfo_mb(key: str = "MemTotal") -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) // 1024
    return 0


def machine() -> dict[str, Any]:
    return {"nproc": os.cpu_count(), "memory_mb": meminfo_mb(), "memory_available_mb": meminfo_mb("MemAvailable"),
            "load": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version(),
            "host": platform.node()}


def pg_version(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
    with engine.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar_one()
        buffers = conn.execute(text("SHOW shared_buffers")).scalar_one()
    engine.dispose()
    return f"PostgreSQL {version} (shared_buffers {buffers})"


def proc_status(pid: int, key: str) -> int:
    """A `/proc/<pid>/status` figure in MiB (VmRSS, VmHWM = peak resident set)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    except OSError:
        return 0
    return 0


def children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    except OSError:
        return []
    return [int(x) for x in out.split()]


def record(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": name, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **result}
    with open(RESULTS / f"{name}.jsonl", "a") as f:
        f.write(json.dumps(result, default=str) + "\n")
    print(json.dumps(result, indent=2, default=str), flush=True)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


# --- API servers ----------------------------------------------------------------------------------

def free_port(first: int = 8150, last: int = 8179) -> int:
    for port in range(first, last + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8150-8179")


@contextmanager
def api_server(database_url: str, *, workers: int = 2, env: dict[str, str] | None = None, app: str = "bench.app:app"):
    """uvicorn with `workers` processes serving `app` (the real app plus the bare baseline routes)."""
    from bench.generate import JWT_SECRET

    port = free_port()
    environment = {**os.environ, "MOTCUA_DATABASE_URL": database_url, "MOTCUA_JWT_SECRET": JWT_SECRET,
                   "MOTCUA_ENV": "test", "MOTCUA_LOG_LEVEL": "WARNING", "MOTCUA_DB_POOL_SIZE": "10",
                   "PYTHONPATH": str(ROOT), **(env or {})}
    process = subprocess.Popen(
        [PYTHON, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
         "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=environment, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process)
        server = {"base": base, "pid": process.pid, "workers": workers}
        yield server
        server["worker_peak_rss_mb"] = [proc_status(pid, "VmHWM") for pid in children(process.pid)]
    finally:
        _stop(process)


@contextmanager
def motcua_serve(database_url: str, *, jwt_secret: str, env: dict[str, str] | None = None):
    """`motcua serve` as deployed (one uvicorn worker, the app's own start-up), quiet, on
    `database_url`; yields {"base", "pid"} once it answers /health (the pid is the worker's)."""
    port = free_port()
    environment = {**os.environ, "MOTCUA_DATABASE_URL": database_url, "MOTCUA_JWT_SECRET": jwt_secret,
                   "MOTCUA_ENV": "test", "MOTCUA_LOG_LEVEL": "CRITICAL", **(env or {})}
    process = subprocess.Popen([PYTHON, "-m", "app.cli", "serve", "--port", str(port)], cwd=ROOT, env=environment,
                               start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, process)
        yield {"base": base, "pid": process.pid}
    finally:
        _stop(process)


def _stop(process: "subprocess.Popen[bytes]") -> None:
    """SIGTERM to the server's process group, SIGKILL if it is not gone within 20 s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def worker_peaks(server: dict[str, Any]) -> list[int]:
    """Peak resident set (MiB) of each API worker process (the server itself when it has no children)."""
    pids = [pid for pid in children(server["pid"]) if proc_status(pid, "VmHWM") > 40] or [server["pid"]]
    return [proc_status(pid, "VmHWM") for pid in pids]


# --- the load generator (another process) ------------------------------------------------------------

def _load_worker(spec: dict[str, Any], queue: mp.Queue) -> None:  # type: ignore[type-arg]
    """Runs in a child process: `concurrency` threads send requests from `spec["requests"]`
    (method, path, json, headers) in turn until `count` are sent or `seconds` have passed."""
    import httpx

    requests = spec["requests"]
    count, seconds, concurrency = spec["count"], spec["seconds"], spec["concurrency"]
    lock = threading.Lock()
    state = {"next": 0}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    started = time.perf_counter()
    stop_at = started + seconds

    def work() -> None:
        with httpx.Client(base_url=spec["base"], timeout=spec.get("timeout", 30)) as client:
            while True:
                with lock:
                    i = state["next"]
                    if i >= count or time.perf_counter() > stop_at:
                        return
                    state["next"] += 1
                method, path, body, headers = requests[i % len(requests)]
                t0 = time.perf_counter()
                try:
                    response = client.request(method, path, json=body, headers=headers)
                    status = response.status_code
                except httpx.HTTPError as exc:
                    status = 0
                    with lock:
                        if len(errors) < 5:
                            errors.append(repr(exc))
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    queue.put({"requests": len(latencies), "wall_s": wall, "statuses": statuses, "errors": errors,
               "latencies": latencies})


def run_load(base: str, requests: list[tuple], *, count: int, seconds: float, concurrency: int = 8) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    spec = {"base": base, "requests": requests, "count": count, "seconds": seconds, "concurrency": concurrency}
    process = ctx.Process(target=_load_worker, args=(spec, queue))
    process.start()
    result = queue.get(timeout=seconds + 120)
    process.join(timeout=30)
    lat = result.pop("latencies")
    ok = sum(n for status, n in result["statuses"].items() if 200 <= int(status) < 300)
    result.update(ok=ok, per_second=round(ok / result["wall_s"], 1),
                  p50_ms=round(percentile(lat, 50) * 1000, 2), p90_ms=round(percentile(lat, 90) * 1000, 2),
                  p99_ms=round(percentile(lat, 99) * 1000, 2), mean_ms=round(statistics.fmean(lat) * 1000, 2)
                  if lat else None, concurrency=concurrency)
    return result


def login(base: str, username: str, password: str = "demo1234") -> dict[str, str]:
    import httpx

    response = httpx.post(base + "/api/v1/auth/token", data={"username": username, "password": password}, timeout=30)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def wait_healthy(base: str, process: "subprocess.Popen[bytes]", *, seconds: float = 60) -> None:
    """Until the server answers /health (or its process ended, or `seconds` passed: RuntimeError)."""
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"API server did not start (exit {process.poll()})")
        time.sleep(0.2)


class StatementLog:
    """The statements an engine sends while a call is labelled: `captured` holds (label, statement,
    parameters) of the kinds asked for (their first word), for the EXPLAIN scripts."""

    def __init__(self, engine: Any, kinds: tuple[str, ...] = ("SELECT",)) -> None:
        from sqlalchemy import event

        self.captured: list[tuple[str, str, Any]] = []
        self.kinds = kinds
        self.label = ""
        event.listen(engine, "before_cursor_execute", self._grab)

    def _grab(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if self.label and statement.lstrip().split(None, 1)[0].upper() in self.kinds:
            self.captured.append((self.label, statement, parameters))

    @contextmanager
    def labelled(self, name: str):  # noqa: ANN201
        self.label = name
        try:
            yield
        finally:
            self.label = ""

