"""Importing the ledger's customers into the debtor index, and merging duplicate debtors.

`import_debtors` pages through every ledger customer (the ledger port's `list_customers`) and
upserts the index (idempotent: a re-import updates changed rows and drops customers gone from
the ledger). `merge_duplicates`
records which customer survives for future orders and repoints links; e-conomic's own records
are never deleted or changed here. The decisions (normalising, grouping) are in duplicates.py.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, delete, select, update

from lb_common.db import Database, utcnow
from lb_connectors.ledger import Ledger, LedgerCustomer
from lb_customers.duplicates import (
    SEPARATOR,
    Debtor,
    DuplicateGroup,
    LinkSuggestion,
    debtor_from_ledger,
    find_duplicates,
    link_suggestions,
)
from lb_customers.store import CustomerLink, CustomerMerge, DebtorIndexEntry

LEDGER_UNTOUCHED = (
    "e-conomic's customer records are not deleted or changed: the merge only decides which "
    "customer this service books future orders on. Bar or tidy the merged customers in "
    "e-conomic yourself if you want them gone there."
)


@dataclass(frozen=True)
class ImportReport:
    connection: str
    seen: int
    imported: int  # new in the index
    updated: int  # in the index before, changed since
    unchanged: int
    removed: int  # in the index before, no longer in e-conomic
    pages: int
    seconds: float


#: Customers asked for per page of the import (e-conomic's largest page).
PAGE_SIZE = 1000


def ledger_fields(customer: LedgerCustomer) -> dict[str, object]:
    """A port customer in the names `debtor_from_ledger` reads. The index keys debtors by
    number: both ledgers' ids are numbers (an e-conomic number, a QuickBooks Id)."""
    billing = customer.billing
    phones = customer.phones
    return {
        "customer_number": int(customer.id),
        "name": customer.name,
        "email": customer.email,
        "telephone_and_fax_number": phones[0] if phones else None,
        "mobile_phone": phones[1] if len(phones) > 1 else None,
        "corporate_identification_number": customer.vat_id,
        "ean": customer.ean,
        "address": "\n".join(billing.lines) or None if billing else None,
        "zip": billing.zip if billing else None,
        "city": billing.city if billing else None,
        "country": billing.country if billing else None,
        "barred": customer.barred,
    }


class MergeError(ValueError):
    """A merge that cannot be done as asked; the message says why."""


def _entry(connection: str, d: Debtor) -> DebtorIndexEntry:
    return DebtorIndexEntry(
        connection=connection,
        customer_number=str(d.customer_number),
        name=d.name,
        email=SEPARATOR.join(d.emails) or None,
        phone=SEPARATOR.join(d.phones) or None,
        cvr=d.cvr,
        ean=d.ean,
        address=d.address,
        zip=d.zip,
        city=d.city,
        barred=d.barred,
    )


def debtor_of(entry: DebtorIndexEntry) -> Debtor:
    return Debtor(
        customer_number=int(entry.customer_number),
        name=entry.name,
        emails=tuple(entry.email.split(SEPARATOR)) if entry.email else (),
        phones=tuple(entry.phone.split(SEPARATOR)) if entry.phone else (),
        cvr=entry.cvr,
        ean=entry.ean,
        address=entry.address,
        zip=entry.zip,
        city=entry.city,
        barred=entry.barred,
    )


# Ids are text; numbers sort as numbers (shorter first, then as text): 9 before 10.
_BY_NUMBER = (
    func.length(col(DebtorIndexEntry.customer_number)),
    col(DebtorIndexEntry.customer_number),
)

_COMPARED = ("name", "email", "phone", "cvr", "ean", "address", "zip", "city", "barred")


async def import_debtors(
    ledger: Ledger,
    db: Database,
    connection: str,
    *,
    home_country: str = "DK",
    page_size: int = PAGE_SIZE,
) -> ImportReport:
    """Read every ledger customer (all pages) into the connection's debtor index."""
    started = time.monotonic()
    fresh: dict[int, DebtorIndexEntry] = {}
    async for customer in ledger.list_customers(page_size=page_size):
        debtor = debtor_from_ledger(ledger_fields(customer), home_country)
        fresh[debtor.customer_number] = _entry(connection, debtor)
    page_size = min(page_size, PAGE_SIZE)
    pages = max(1, math.ceil(len(fresh) / page_size))

    imported = updated = unchanged = 0
    async with db.transaction() as session:
        query = select(DebtorIndexEntry).where(DebtorIndexEntry.connection == connection)
        existing = {int(e.customer_number): e for e in (await session.exec(query)).all()}
        now = utcnow()
        for number, entry in fresh.items():
            old = existing.get(number)
            if old is None:
                entry.imported_at = now
                session.add(entry)
                imported += 1
                continue
            if all(getattr(old, f) == getattr(entry, f) for f in _COMPARED):
                unchanged += 1
            else:
                updated += 1
                for f in _COMPARED:
                    setattr(old, f, getattr(entry, f))
            old.imported_at = now
            session.add(old)
        gone = [n for n in existing if n not in fresh]
        if gone:
            await session.exec(
                delete(DebtorIndexEntry).where(
                    col(DebtorIndexEntry.connection) == connection,
                    col(DebtorIndexEntry.customer_number).in_([str(n) for n in gone]),
                )
            )
    return ImportReport(
        connection=connection,
        seen=len(fresh),
        imported=imported,
        updated=updated,
        unchanged=unchanged,
        removed=len(gone),
        pages=pages,
        seconds=round(time.monotonic() - started, 3),
    )


async def indexed_debtors(db: Database, connection: str) -> list[Debtor]:
    query = (
        select(DebtorIndexEntry)
        .where(DebtorIndexEntry.connection == connection)
        .order_by(*_BY_NUMBER)
    )
    async with db.session() as session:
        return [debtor_of(e) for e in (await session.exec(query)).all()]


@dataclass(frozen=True)
class DebtorPage:
    total: int
    entries: list[DebtorIndexEntry]


async def debtor_page(
    db: Database,
    connection: str,
    *,
    numbers: list[int],
    text: str | None,
    limit: int,
    offset: int,
) -> DebtorPage:
    """Imported customers by number and/or by part of their name or email, paged."""
    where = [col(DebtorIndexEntry.connection) == connection]
    if numbers:
        where.append(col(DebtorIndexEntry.customer_number).in_([str(n) for n in numbers]))
    if text and text.strip():
        needle = text.strip().lower()
        where.append(
            func.lower(col(DebtorIndexEntry.name)).contains(needle)
            | func.lower(func.coalesce(col(DebtorIndexEntry.email), "")).contains(needle)
        )
    query = select(DebtorIndexEntry).where(*where).order_by(*_BY_NUMBER)
    async with db.session() as session:
        total = (
            await session.exec(select(func.count()).select_from(DebtorIndexEntry).where(*where))
        ).one()
        rows = (await session.exec(query.offset(offset).limit(limit))).all()
    return DebtorPage(int(total), list(rows))


async def merges(db: Database, connection: str) -> dict[int, int]:
    """Merged customer number → surviving customer number."""
    query = select(CustomerMerge).where(CustomerMerge.connection == connection)
    async with db.session() as session:
        rows = (await session.exec(query)).all()
    return {int(m.merged_number): int(m.survivor_number) for m in rows}


async def duplicate_groups(db: Database, connection: str) -> list[DuplicateGroup]:
    return find_duplicates(await indexed_debtors(db, connection))


async def suggestions(db: Database, connection: str) -> list[LinkSuggestion]:
    query = select(CustomerLink).where(CustomerLink.connection == connection)
    async with db.session() as session:
        links = [
            (link.match_key, int(link.customer_number))
            for link in (await session.exec(query))
            if link.customer_number.isdigit()  # the index holds numbered customers only
        ]
    return link_suggestions(
        links, await indexed_debtors(db, connection), await merges(db, connection)
    )


@dataclass(frozen=True)
class MergeResult:
    group: DuplicateGroup
    survivor: int
    merged: tuple[int, ...]
    links_repointed: int


async def merge_duplicates(
    db: Database, connection: str, group_id: str, survivor: int
) -> MergeResult:
    """Future orders that find any customer of the group are booked on `survivor`.

    Links to the merged customers are repointed to the survivor (remembering the customer they
    pointed at, `merged_from`, so an order found by such a link says it was redirected), and
    earlier merges into a merged customer now lead to the survivor too (no chains). Raises LookupError for an
    unknown group, MergeError for a survivor outside the group or itself merged away.
    """
    group = next((g for g in await duplicate_groups(db, connection) if g.id == group_id), None)
    if group is None:
        raise LookupError(group_id)
    if survivor not in group.customer_numbers:
        raise MergeError(
            f"Customer {survivor} is not in duplicate group {group_id} "
            f"({', '.join(str(n) for n in group.customer_numbers)})."
        )
    merged = tuple(n for n in group.customer_numbers if n != survivor)
    async with db.transaction() as session:
        already = await session.get(CustomerMerge, (connection, str(survivor)))
        if already is not None:
            raise MergeError(
                f"Customer {survivor} was merged into {already.survivor_number} before; "
                f"choose {already.survivor_number} or another customer as the survivor."
            )
        for number in merged:
            await session.merge(
                CustomerMerge(
                    connection=connection,
                    merged_number=str(number),
                    survivor_number=str(survivor),
                    group_id=group.id,
                    rule=group.rule,
                )
            )
        await session.exec(
            update(CustomerMerge)
            .where(
                col(CustomerMerge.connection) == connection,
                col(CustomerMerge.survivor_number).in_([str(n) for n in merged]),
            )
            .values(survivor_number=str(survivor))
        )
        repointed = await session.exec(
            update(CustomerLink)
            .where(
                col(CustomerLink.connection) == connection,
                col(CustomerLink.customer_number).in_([str(n) for n in merged]),
            )
            # Remember the first customer the link pointed at, for the order's timeline.
            .values(
                customer_number=str(survivor),
                merged_from=func.coalesce(
                    col(CustomerLink.merged_from), col(CustomerLink.customer_number)
                ),
            )
        )
    return MergeResult(group, survivor, merged, repointed.rowcount)
