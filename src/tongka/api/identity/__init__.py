"""Identity endpoints: merchants and onboarding, stores, terminals, users, consumers, API keys."""

from fastapi import APIRouter

from tongka.api.identity import api_keys, merchants, stores, users

router = APIRouter()
for module in (merchants, stores, users, api_keys):
    router.include_router(module.router)

__all__ = ["router"]
