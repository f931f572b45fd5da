"""The public JSON form of an event: the ``GET /v1/events`` item and the webhook body."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from tongka.events.models import Event


class EventPayload(BaseModel):
    """What a merchant receives for an event (never a secret: see ``record_event``)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    type: str
    created_at: datetime
    data: dict[str, Any]
    object_type: str
    object_id: str

    @classmethod
    def of(cls, event: Event) -> EventPayload:
        return cls.model_validate(event)

    def to_json_bytes(self) -> bytes:
        """The exact bytes a webhook delivery sends and signs."""
        return self.model_dump_json().encode()
