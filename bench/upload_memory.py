"""Uploading a 20 MiB dossier file: worker memory and throughput (issue 13, item 1).

Starts `motcua serve` (one uvicorn worker) on a fresh SQLite database with the demo catalogue,
receives one dossier, then uploads a valid 20 MiB PDF `--uploads` times, one after the other, to
`POST /api/v1/dossiers/{code}/files` (each a new version of the same component; each with
different bytes, so each is stored), and downloads the last one. The worker's resident set comes
from `/proc/<pid>/status`: VmRSS before the first upload, VmHWM (the kernel's peak) after.

Backends: `local` (a temporary directory) and `s3` (a moto S3 server started here, reached over
HTTP by boto3 in the worker).

    python bench/upload_memory.py [--uploads 5] [--backends local,s3]

Prints and appends a JSON line to bench/results/upload_memory.jsonl.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import free_port, machine, motcua_serve, proc_status, record  # noqa: E402

SECRET = "bench-secret-for-upload-memory-0123456789"
SIZE = 20 * 1024 * 1024
PROCEDURE = "2.001914"


def make_pdf(label: str, size: int = SIZE) -> bytes:
    """A valid PDF of exactly `size` bytes (one blank page, padded with metadata)."""
    from pypdf import PdfWriter

    def build(padding: int) -> bytes:
        writer = PdfWriter()
        writer.add_blank_page(width=595, height=842)
        writer.add_metadata({"/Subject": label, "/Keywords": "x" * padding})
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    first = build(size - 2000)
    data = build(size - 2000 + (size - len(first)))
    assert len(data) == size, len(data)
    return data


def prepare(url: str) -> None:
    from app.catalog.demo import seed_demo
    from app.db import make_engine, make_sessionmaker, transaction
    from app.migrations import upgrade
    from app.settings import Settings

    settings = Settings(env="test", database_url=url, jwt_secret=SECRET, password_time_cost=1,
                        password_memory_cost=1024)
    engine = make_engine(settings)
    upgrade(engine)
    with transaction(make_sessionmaker(engine)) as session:
        seed_demo(session, settings=settings, now=datetime.now(UTC))
    engine.dispose()


def run(backend: str, url: str, files_dir: str, uploads: int, s3_endpoint: str | None) -> dict:
    import httpx

    env = {"MOTCUA_STORAGE_BACKEND": backend, "MOTCUA_STORAGE_DIR": files_dir,
           "MOTCUA_MAX_DOSSIER_BYTES": str(2**30)}  # every version counts towards the dossier cap
    if backend == "s3":
        env.update(MOTCUA_S3_ENDPOINT_URL=s3_endpoint or "", MOTCUA_S3_BUCKET="bench", MOTCUA_S3_ACCESS_KEY_ID="test",
                   MOTCUA_S3_SECRET_ACCESS_KEY="test")
    with motcua_serve(url, jwt_secret=SECRET, env=env) as server:
        base, pid = server["base"], server["pid"]
        with httpx.Client(base_url=base, timeout=300) as client:
            token = client.post("/api/v1/auth/token", data={"username": "motcua", "password": "demo1234"}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            procedure = client.get(f"/api/v1/procedures/{PROCEDURE}", headers=headers).json()
            dossier = client.post("/api/v1/dossiers", headers=headers, json={
                "procedure_code": PROCEDURE, "channel": "direct", "return_method": "desk",
                "applicant": {"full_name": "Nguyễn Văn An", "id_number": "001099012345"},
                "documents": [{"name": d["name"], "kind": d["kind"], "count": d["count"]}
                              for d in procedure["required_documents"]]}).json()
            # A first small upload warms the code paths (imports of pypdf, filetype, boto3).
            warm = client.post(f"/api/v1/dossiers/{dossier['code']}/files", headers=headers,
                               data={"component": "1", "kind": "copy"},
                               files={"file": ("warm.pdf", make_pdf("warm", 4096), "application/pdf")})
            assert warm.status_code == 201, warm.text
            rss_before = proc_status(pid, "VmRSS")
            peak_before = proc_status(pid, "VmHWM")
            times = []
            for i in range(uploads):
                content = make_pdf(f"scan {i}")
                started = time.perf_counter()
                response = client.post(f"/api/v1/dossiers/{dossier['code']}/files", headers=headers,
                                       data={"component": "0", "kind": "original_scan"},
                                       files={"file": (f"scan-{i}.pdf", content, "application/pdf")})
                times.append(time.perf_counter() - started)
                assert response.status_code == 201, response.text[:300]
            started = time.perf_counter()
            with client.stream("GET", response.json()["download_url"], headers=headers) as download:
                got = sum(len(chunk) for chunk in download.iter_bytes())
            download_s = time.perf_counter() - started
            assert got == SIZE
        mib = SIZE / 2**20
        return {"backend": backend, "uploads": uploads, "file_mib": mib,
                "rss_before_mib": rss_before, "peak_before_mib": peak_before,
                "peak_rss_mib": proc_status(pid, "VmHWM"), "rss_after_mib": proc_status(pid, "VmRSS"),
                "upload_s": [round(t, 3) for t in times], "upload_mib_per_s_median": round(mib / sorted(times)[len(times) // 2], 1),
                "download_s": round(download_s, 3), "download_mib_per_s": round(mib / download_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=5)
    parser.add_argument("--backends", default="local,s3")
    args = parser.parse_args()
    load_before = machine()
    results = []
    server = None
    endpoint = None
    if "s3" in args.backends:
        import boto3
        from moto.server import ThreadedMotoServer

        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                     aws_secret_access_key="test").create_bucket(Bucket="bench")
    try:
        for backend in args.backends.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite:///{tmp}/motcua.db"
                prepare(url)
                results.append(run(backend, url, f"{tmp}/files", args.uploads, endpoint))
                print(results[-1], flush=True)
    finally:
        if server is not None:
            server.stop()
    record("upload_memory", {"machine_before": load_before, "machine_after": machine(), "results": results})


if __name__ == "__main__":
    main()
