"""The landing page: where a newcomer finds the citizen page, the dashboard and the API docs."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>motcua — Bộ phận Một cửa</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
a{display:block;padding:.75rem 1rem;margin:.5rem 0;border:1px solid #b8c4d6;border-radius:.5rem;color:#0b3d91;
text-decoration:none}a:focus,a:hover{background:#eef3fb;outline:3px solid #0b3d91}</style></head>
<body><h1>Bộ phận Một cửa — Sở Giáo dục và Đào tạo</h1>
<p>Hệ thống tiếp nhận, giải quyết và trả kết quả thủ tục hành chính.</p>
<a href="/tra-cuu">Tra cứu tình trạng hồ sơ (dành cho người dân)</a>
<a href="/bang-dieu-khien">Bảng điều khiển (lãnh đạo, văn phòng)</a>
<a href="/docs">Tài liệu API và thử nghiệm (cán bộ, tích hợp)</a>
<a href="/quy-trinh">Bảng chuyển trạng thái hồ sơ</a>
</body></html>"""


@router.get("/", response_class=HTMLResponse)
def home() -> str:
    return PAGE
