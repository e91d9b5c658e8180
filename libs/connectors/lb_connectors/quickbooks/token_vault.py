"""The QuickBooks tokens of each connection, sealed (lb_common.sealing, MultiFernet) in a table
`quickbooks_tokens` that every process calling that company shares.

Every change is a compare-and-set on `version`, so two processes cannot both write after
reading the same tokens: the one that loses learns it and reads the winner's tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, String, insert, select, update
from sqlmodel import Field, SQLModel

from lb_common.db import Database, UTCDateTime, utcnow
from lb_common.sealing import SecretBox

from .oauth import TokenSet


class QuickBooksTokenRow(SQLModel, table=True):
    __tablename__ = "quickbooks_tokens"

    connection: str = Field(sa_column=Column(String, primary_key=True))
    realm_id: str = Field(sa_column=Column(String, nullable=False))
    version: int
    sealed: str
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


_table = QuickBooksTokenRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StoredTokens:
    version: int
    tokens: TokenSet


class TokenVault:
    def __init__(self, db: Database, box: SecretBox) -> None:
        self._db = db
        self._box = box

    async def load(self, connection: str) -> StoredTokens | None:
        async with self._db.engine.connect() as c:
            row = (
                await c.execute(
                    select(_table.c.version, _table.c.sealed).where(
                        _table.c.connection == connection
                    )
                )
            ).first()
        if row is None:
            return None
        return StoredTokens(row.version, TokenSet.from_secret(self._box.open(row.sealed)))

    async def connect(self, connection: str, tokens: TokenSet) -> StoredTokens:
        """Store the tokens of a new consent, replacing whatever the connection had."""
        sealed = self._box.seal(tokens.to_secret())
        async with self._db.write_connection() as c:
            result = await c.execute(
                update(_table)
                .where(_table.c.connection == connection)
                .values(
                    realm_id=tokens.realm_id,
                    version=_table.c.version + 1,
                    sealed=sealed,
                    updated_at=utcnow(),
                )
                .returning(_table.c.version)
            )
            version = result.scalar()
            if version is None:
                version = 1
                await c.execute(
                    insert(_table).values(
                        connection=connection,
                        realm_id=tokens.realm_id,
                        version=version,
                        sealed=sealed,
                        updated_at=utcnow(),
                    )
                )
        return StoredTokens(version, tokens)

    async def replace(
        self, connection: str, expected: int, tokens: TokenSet
    ) -> StoredTokens | None:
        """Store refreshed tokens if the row is still at `expected`; None if someone else wrote."""
        async with self._db.write_connection() as c:
            result = await c.execute(
                update(_table)
                .where(_table.c.connection == connection, _table.c.version == expected)
                .values(
                    version=expected + 1,
                    sealed=self._box.seal(tokens.to_secret()),
                    updated_at=utcnow(),
                )
            )
        return StoredTokens(expected + 1, tokens) if result.rowcount else None
