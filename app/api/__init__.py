"""Thin routers, one per resource; schemas beside them or in their concern's package."""

from fastapi import APIRouter

from app.api import (alerts, analysis, apologies, auth, calendar, dossiers, esign, feedback, files, forms, health,
                     imports, interagency, outbox, payments, portal, postal, procedures, public, reports, users, workflow)
from app.web import dashboard, home

router = APIRouter()
# Order is matching order: the API first, then the printable transition table, forms, the
# citizen lookup (/tra-cuu), and the HTML pages.
for sub in (health.router, auth.router, procedures.router, calendar.router, dossiers.router, files.router,
            files.applicants, workflow.router, workflow.page_router, forms.router, public.router, payments.router,
            esign.router,
            postal.router, outbox.router, reports.router, alerts.router, apologies.router, imports.router,
            interagency.router, portal.router, users.router, feedback.router, feedback.public, analysis.router,
            analysis.dossier_router, dashboard.router, home.router):
    router.include_router(sub)
