"""Analysis of the recorded history (issue 17, docs/FORESIGHT.md): what-if replay of a time limit,
the event log for process mining. Roles reporter or leader, scoped to the caller's agency."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from app.api.deps import ClockDep, SessionDep, SettingsDep
from app.auth.deps import Reporter
from app.foresight import export, replay
from app.foresight.schemas import WhatIfIn, WhatIfOut
from app.reports.periods import parse_period

router = APIRouter(prefix="/api/v1/analysis", tags=["phân tích"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _what_if(session, principal, settings, body: WhatIfIn) -> WhatIfOut:  # noqa: ANN001
    period = parse_period(body.period, settings.timezone, from_=body.date_from, to=body.date_to)
    return replay.what_if(session, agency_id=principal.scope_agency_id, request=body, period=period,
                          settings=settings)


@router.post("/what-if", response_model=WhatIfOut,
             summary="Tính lại: hồ sơ của một kỳ sẽ trước hạn, đúng hạn, quá hạn bao nhiêu nếu đổi thời hạn")
def what_if(body: WhatIfIn, session: SessionDep, principal: Reporter, settings: SettingsDep) -> WhatIfOut:
    return _what_if(session, principal, settings, body)


@router.post("/what-if.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}},
             summary="Tải kết quả tính lại thời hạn dạng Excel (XLSX)")
def what_if_xlsx(body: WhatIfIn, session: SessionDep, principal: Reporter, settings: SettingsDep,
                 clock: ClockDep) -> Response:
    out = _what_if(session, principal, settings, body)
    return Response(export.to_xlsx(out, generated_at=clock.now(), tz=settings.timezone), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{export.filename(out)}"',
                             "Cache-Control": "no-store"})
