"""Thin routers, one per resource; schemas beside them or in their concern's package."""

from fastapi import APIRouter

from app.api import auth, calendar, dossiers, health, procedures, workflow

router = APIRouter()
for module in (health, auth, procedures, calendar, dossiers, workflow):
    router.include_router(module.router)
router.include_router(workflow.page_router)
from app.api import forms; router.include_router(forms.router)  # noqa: E402, E702  (printable forms)
from app.api import public; router.include_router(public.router)  # noqa: E402, E702  (citizen lookup, /tra-cuu)
from app.api import postal; router.include_router(postal.router)  # noqa: E402, E702  (BCCI shipments)
from app.api import outbox; router.include_router(outbox.router)  # noqa: E402, E702  (outbox admin)
from app.api import reports; router.include_router(reports.router)  # noqa: E402, E702  (reports, exports)
from app.api import alerts; router.include_router(alerts.router)  # noqa: E402, E702  (deadline alerts)
from app.api import apologies; router.include_router(apologies.router)  # noqa: E402, E702  (form 4 apologies)
from app.api import imports; router.include_router(imports.router)  # noqa: E402, E702  (history import)
from app.web import dashboard; router.include_router(dashboard.router)  # noqa: E402, E702  (leaders dashboard page)
from app.web import home; router.include_router(home.router)  # noqa: E402, E702  (landing page)
