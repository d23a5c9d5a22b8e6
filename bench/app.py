"""The app the API benchmarks serve: the real application plus bare baseline routes.

    uvicorn bench.app:app --workers 2        (MOTCUA_* from the environment, as `motcua serve`)

`POST /bench/insert` inserts one row (a `system_state` key) with the same request session as every
route (`SessionDep`: one transaction, committed before the response); `GET /bench/pk/{id}` reads one
dossier by primary key. They hold no rule, no authentication and no response model: the floor a
real route is compared with. They exist only in this benchmark app, never in `app.asgi`.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlmodel import select

from app.api.deps import ClockDep, SessionDep
from app.main import create_app
from app.models import Dossier, SystemState

router = APIRouter(prefix="/bench", include_in_schema=False)


@router.post("/insert", status_code=201)
def insert_one(session: SessionDep, clock: ClockDep) -> dict:
    session.add(SystemState(key=f"bench:{uuid.uuid4().hex}", value="x", updated_at=clock.now()))
    return {"ok": True}


@router.get("/pk/{dossier_id}")
def by_primary_key(dossier_id: int, session: SessionDep) -> dict:
    row = session.exec(select(Dossier.code, Dossier.status).where(Dossier.id == dossier_id)).first()
    return {"code": row[0], "status": row[1]} if row else {}


app = create_app()
app.include_router(router)
