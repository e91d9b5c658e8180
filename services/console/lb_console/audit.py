"""The audit log: who did what, to what, when, why (the reason they gave) and what came of it."""

from __future__ import annotations

from sqlmodel import col, func, select

from lb_common.db import Database
from lb_console.store import AuditEntry


async def record(
    db: Database,
    operator: str,
    action: str,
    target: str = "",
    *,
    reason: str = "",
    outcome: str = "",
) -> None:
    async with db.transaction() as session:
        session.add(
            AuditEntry(
                operator=operator,
                action=action,
                target=target,
                reason=reason,
                outcome=outcome[:2000],
            )
        )


async def page(
    db: Database, *, action: str | None, operator: str | None, limit: int, offset: int
) -> tuple[int, list[AuditEntry]]:
    query = select(AuditEntry)
    counting = select(func.count()).select_from(AuditEntry)
    if action:
        query = query.where(col(AuditEntry.action) == action)
        counting = counting.where(col(AuditEntry.action) == action)
    if operator:
        query = query.where(col(AuditEntry.operator) == operator)
        counting = counting.where(col(AuditEntry.operator) == operator)
    async with db.session() as session:
        total = (await session.exec(counting)).one()
        rows = (
            await session.exec(
                query.order_by(col(AuditEntry.id).desc()).offset(offset).limit(limit)
            )
        ).all()
    return int(total), list(rows)
