"""The message envelope every event travels in (see docs/architecture.md, "Messages")."""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class Event(BaseModel):
    """Base of every payload. Subclasses set TYPE (the routing key) and VERSION."""

    model_config = ConfigDict(frozen=True)
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1


E = TypeVar("E", bound=Event)


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: str
    version: int = 1
    connection: str
    order_key: str | None = None
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str
    causation_id: str | None = None
    payload: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        event: Event,
        *,
        connection: str,
        order_key: str | None,
        correlation_id: str | None = None,
        caused_by: Envelope | None = None,
    ) -> Envelope:
        """Build an envelope; when caused by another message, carry its correlation on."""
        return cls.wrap_dumped(
            type(event),
            event.model_dump(mode="json"),
            connection=connection,
            order_key=order_key,
            correlation_id=correlation_id,
            caused_by=caused_by,
        )

    @classmethod
    def wrap_dumped(
        cls,
        event_type: builtins.type[Event],
        payload: dict[str, Any],
        *,
        connection: str,
        order_key: str | None,
        correlation_id: str | None = None,
        caused_by: Envelope | None = None,
    ) -> Envelope:
        """`wrap` for a payload the caller already validated and dumped to JSON-ready values
        (the webhook writer dumps each order once, for its row and its message)."""
        if correlation_id is None:
            correlation_id = caused_by.correlation_id if caused_by else (order_key or "")
        return cls(
            type=event_type.TYPE,
            version=event_type.VERSION,
            connection=connection,
            order_key=order_key,
            correlation_id=correlation_id,
            causation_id=caused_by.message_id if caused_by else None,
            payload=payload,
        )

    def parse(self, model: builtins.type[E]) -> E:
        if self.type != model.TYPE:
            raise ValueError(f"envelope of type {self.type!r} is not a {model.TYPE!r}")
        return model.model_validate(self.payload)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, body: bytes) -> Envelope:
        return cls.model_validate_json(body)
