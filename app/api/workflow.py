from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from app.auth.deps import CurrentUser
from app.statuses import CLOCK_LABELS, ROLE_NAMES
from app.workflows.transitions import ACTION_LABELS, PORTAL_STATUS, STATUS_LABELS, TRANSITIONS

router = APIRouter(prefix="/api/v1/workflow", tags=["quy trình"])
# The printable table is public documentation of the rules, not data: it lives outside /api/v1.
page_router = APIRouter(include_in_schema=False)


class TransitionOut(BaseModel):
    status: str
    status_label: str
    action: str
    action_label: str
    roles: list[str]
    to_status: str | None
    clock: str
    step_bound: bool
    portal_status_after: int | None


def _rows() -> list[TransitionOut]:
    return [TransitionOut(status=t.status, status_label=STATUS_LABELS[t.status], action=t.action,
                          action_label=ACTION_LABELS[t.action], roles=sorted(t.roles),
                          to_status=t.to_status, clock=t.clock, step_bound=t.step_bound,
                          portal_status_after=PORTAL_STATUS[t.to_status] if t.to_status else None)
            for t in TRANSITIONS]


@router.get("/transitions", response_model=list[TransitionOut], summary="Bảng chuyển trạng thái hồ sơ (dữ liệu)")
def transitions(_: CurrentUser) -> list[TransitionOut]:
    return _rows()


@page_router.get("/quy-trinh", response_class=HTMLResponse)
def transitions_page() -> str:
    """The table as people read it: Vietnamese labels only (the codes are in /api/v1/workflow/transitions)."""
    from html import escape

    def who(r: TransitionOut) -> str:
        names = ", ".join(ROLE_NAMES[role] for role in r.roles)
        names = names[:1].upper() + names[1:]
        return names + (" (người đang giữ bước xử lý)" if r.step_bound else "")

    rows = "".join(
        f"<tr><td>{escape(r.status_label)}</td><td>{escape(r.action_label)}</td><td>{escape(who(r))}</td>"
        f"<td>{escape(STATUS_LABELS[r.to_status] if r.to_status else 'Trạng thái trước khi tạm dừng')}</td>"
        f"<td>{escape(CLOCK_LABELS[r.clock])}</td><td>{r.portal_status_after or ''}</td></tr>" for r in _rows())
    return ("<!doctype html><html lang='vi'><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'><title>Bảng chuyển trạng thái hồ sơ</title>"
            "<style>body{font-family:sans-serif;margin:1rem}table{border-collapse:collapse}"
            "td,th{border:1px solid #999;padding:4px;vertical-align:top}"
            "@media print{@page{size:A4 landscape}}</style><h1>Bảng chuyển trạng thái hồ sơ</h1>"
            "<table><tr><th>Trạng thái</th><th>Thao tác</th><th>Người thực hiện</th><th>Trạng thái sau</th>"
            "<th>Thời hạn giải quyết</th><th>Mã trạng thái trên Cổng DVCQG</th></tr>" + rows + "</table>")
