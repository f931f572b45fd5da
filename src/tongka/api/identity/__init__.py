"""Identity endpoints: merchants and onboarding, stores, terminals, users, consumers, API keys."""

from fastapi import APIRouter

from tongka.api.identity import api_keys, consumer_sessions, merchants, stores, users

router = APIRouter()
# consumer_sessions before users: ``/v1/consumers/me`` must win over ``/v1/consumers/{id}``
for module in (merchants, stores, consumer_sessions, users, api_keys):
    router.include_router(module.router)

__all__ = ["router"]
