"""Memory of one API worker under concurrent bad logins (issue 12 item 4).

Starts `motcua serve` (one uvicorn worker, production Argon2id parameters: t=3, m=64 MiB, p=4)
on a fresh SQLite database, warms it with one good login, then sends N bad logins at once (N
threads, distinct usernames) and reads the worker's resident set: VmRSS before, VmHWM (the
kernel's peak) after. Each scenario gets a fresh server, so every peak is its own.

Scenarios:
  bounded    MOTCUA_PASSWORD_HASH_CONCURRENCY=2 (the default), login limits lifted so every
             request computes a hash: what the semaphore alone holds.
  unbounded  concurrency 64 (as before: only the 40 threads of the pool limit it), limits lifted.
  defaults   every default: the per-address limit (30 failures / 15 min) refuses the rest with
             429 before hashing.

    python bench/login_memory.py [--requests 80] [--scenarios bounded,unbounded,defaults]

Prints and appends a JSON line to bench/results/login_memory.jsonl.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import machine, motcua_serve, proc_status, record  # noqa: E402

SECRET = "bench-secret-for-login-memory-0123456789"
LIFTED = {"MOTCUA_LOGIN_FAILURES_PER_ADDRESS": "100000", "MOTCUA_LOGIN_FAILURES_PER_USERNAME": "100000",
          "MOTCUA_PASSWORD_HASH_WAIT_SECONDS": "60"}
SCENARIOS = {
    "bounded": {"MOTCUA_PASSWORD_HASH_CONCURRENCY": "2", **LIFTED},
    "unbounded": {"MOTCUA_PASSWORD_HASH_CONCURRENCY": "64", **LIFTED},
    "defaults": {},
}


def prepare(url: str) -> None:
    from app.auth.service import create_agency, create_user
    from app.db import make_engine, make_sessionmaker, transaction
    from app.migrations import upgrade
    from app.settings import Settings

    settings = Settings(env="test", database_url=url, jwt_secret=SECRET, password_time_cost=1,
                        password_memory_cost=1024)
    engine = make_engine(settings)
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        now = datetime.now(UTC)
        create_agency(session, code="000.00.17.H26", name="Sở thử", now=now)
        # Hashed with the production parameters (the stored hash carries them): the warm-up login
        # then costs what a real one does.
        create_user(session, username="motcua", password="demo1234", full_name="Cán bộ", agency_code="000.00.17.H26",
                    roles=["desk"], settings=Settings(env="test", database_url=url, jwt_secret=SECRET), now=now)
    engine.dispose()


def scenario(name: str, url: str, requests: int) -> dict:
    import httpx

    with motcua_serve(url, jwt_secret=SECRET, env=SCENARIOS[name]) as server:
        base, pid = server["base"], server["pid"]
        good = httpx.post(base + "/api/v1/auth/token", data={"username": "motcua", "password": "demo1234"},
                          timeout=60)
        assert good.status_code == 200, good.text
        before = proc_status(pid, "VmRSS")
        warm_peak = proc_status(pid, "VmHWM")
        statuses: dict[int, int] = {}
        lock, gate = threading.Lock(), threading.Barrier(requests)

        def bad(i: int) -> None:
            with httpx.Client(base_url=base, timeout=120) as client:
                gate.wait()  # all at once
                try:
                    status = client.post("/api/v1/auth/token",
                                         data={"username": f"attacker{i}", "password": "wrong"}).status_code
                except httpx.HTTPError:
                    status = 0
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

        started = time.perf_counter()
        threads = [threading.Thread(target=bad, args=(i,)) for i in range(requests)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        return {"scenario": name, "requests": requests, "statuses": dict(sorted(statuses.items())),
                "rss_before_mb": before, "peak_before_burst_mb": warm_peak,
                "peak_rss_mb": proc_status(pid, "VmHWM"), "rss_after_mb": proc_status(pid, "VmRSS"),
                "wall_s": round(wall, 2), "env": SCENARIOS[name]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=80)
    parser.add_argument("--scenarios", default="bounded,unbounded,defaults")
    args = parser.parse_args()
    load_before = machine()
    results = []
    for name in args.scenarios.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/motcua.db"
            prepare(url)
            results.append(scenario(name, url, args.requests))
            print(results[-1], flush=True)
    record("login_memory", {"machine_before": load_before, "machine_after": machine(),
                            "argon2": {"type": "id", "time_cost": 3, "memory_kib": 65536, "parallelism": 4},
                            "results": results})


if __name__ == "__main__":
    main()
