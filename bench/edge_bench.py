"""What the request guard (app/edge.py) costs per request: the checks alone, and a whole in-process
request with and without the guard. Results: docs/BENCHMARKS.md, "The HTTP edge (issue 12)".

    .venv/bin/python bench/edge_bench.py
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.edge import RequestGuard, check_json, check_multipart, check_urlencoded  # noqa: E402


def per_call(fn, repeat: int) -> float:  # noqa: ANN001
    """Median of 5 runs of `repeat` calls, in microseconds per call."""
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeat):
            fn()
        runs.append((time.perf_counter() - started) / repeat * 1e6)
    return statistics.median(runs)


def intake_body() -> bytes:
    return json.dumps({
        "procedure_code": "2.001914", "channel": "direct",
        "applicant": {"full_name": "Nguyễn Văn An", "id_number": "001099012345", "phone": "0912345678",
                      "email": "an@example.vn", "address": "Số 5 Lê Lợi, phường Mẫu"},
        "documents": [{"name": f"Giấy tờ số {i} theo mẫu quy định", "kind": "copy", "count": 1} for i in range(6)],
        "return_method": "desk", "note": "Ghi chú " * 20}, ensure_ascii=False).encode()


def big_json(size: int) -> bytes:
    row = {"code": "000.00.17.H26-261123-0001", "applicant_name": "Nguyễn Văn An", "note": "Ghi chú dài " * 4}
    rows = [row] * (size // len(json.dumps(row, ensure_ascii=False).encode()))
    return json.dumps(rows, ensure_ascii=False).encode()[:size - 2] .rsplit(b"},", 1)[0] + b"}]"


def multipart(size: int) -> tuple[bytes, bytes]:
    boundary = b"----bench0123456789"
    line = "000.00.17.H26-261123-0001,2.001914,Nguyễn Văn An,2026-11-23T09:00:00\n".encode()
    content = line * (size // len(line))
    body = (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"dry_run\"\r\n\r\ntrue\r\n"
            b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"lich-su.csv\"\r\n"
            b"Content-Type: text/csv\r\n\r\n" + content + b"\r\n--" + boundary + b"--\r\n")
    return body, boundary


async def _whole_request(app, body: bytes, repeat: int) -> float:  # noqa: ANN001
    """A POST through the ASGI stack to an app that reads the body and answers 204."""
    scope = {"type": "http", "method": "POST", "path": "/api/v1/dossiers", "query_string": b"limit=5",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeat):
            sent = False

            async def receive():  # noqa: ANN202
                nonlocal sent
                if sent:
                    return {"type": "http.disconnect"}
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def send(message):  # noqa: ANN001, ANN202
                return None

            await app(dict(scope), receive, send)
        runs.append((time.perf_counter() - started) / repeat * 1e6)
    return statistics.median(runs)


async def _inner(scope, receive, send):  # noqa: ANN001, ANN202
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    json.loads(body)  # what FastAPI does with a JSON body
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def main() -> None:
    small = intake_body()
    mib = big_json(1024 * 1024)
    form = b"username=motcua&password=demo1234&grant_type=password"
    upload, boundary = multipart(20 * 1024 * 1024)
    guarded = RequestGuard(_inner, max_body_bytes=1024 * 1024, max_upload_bytes=21 * 1024 * 1024, max_json_depth=32)
    results = {
        "check_json, intake body (%d B), µs" % len(small): per_call(lambda: check_json(small, 32), 2000),
        "check_json, 1 MiB array of objects, µs": per_call(lambda: check_json(mib, 32), 5),
        "json.loads alone, same 1 MiB, µs": per_call(lambda: json.loads(mib), 5),
        "check_urlencoded, login form, µs": per_call(lambda: check_urlencoded(form), 5000),
        "check_multipart, 20 MB CSV upload, µs": per_call(lambda: check_multipart(upload, boundary), 3),
        "ASGI request, intake body, no guard, µs": asyncio.run(_whole_request(_inner, small, 2000)),
        "ASGI request, intake body, guard, µs": asyncio.run(_whole_request(guarded, small, 2000)),
        "ASGI request, 1 MiB JSON, no guard, µs": asyncio.run(_whole_request(_inner, mib, 5)),
        "ASGI request, 1 MiB JSON, guard, µs": asyncio.run(_whole_request(guarded, mib, 5)),
    }
    for name, value in results.items():
        print(f"{name:45s} {value:12.1f}")


if __name__ == "__main__":
    main()
