"""Thin routers, one per resource; schemas beside them or in their concern's package."""

from fastapi import APIRouter

from app.api import auth, calendar, dossiers, health, procedures, workflow

router = APIRouter()
for module in (health, auth, procedures, calendar, dossiers, workflow):
    router.include_router(module.router)
