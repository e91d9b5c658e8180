"""Whether a journal takes the entries we post: a journal can be restricted to one entry type
(`settings.entryTypeRestrictedTo`, schema journals.get; a live agreement's journal 2 takes only
customer payments, traels-it/economic-rest journals_0.json). Checked before a payment is
posted, so a bookkeeper reads which journals would take it instead of a refusal."""

from __future__ import annotations

import time
import weakref

from lb_connectors.economic.client import EconomicClient
from lb_connectors.economic.setup_models import EntryType, Journal
from lb_connectors.ledger.errors import LedgerRefused

JOURNAL_SECONDS = 3600.0  # journals' settings change by hand, rarely

_JOURNALS: weakref.WeakKeyDictionary[EconomicClient, tuple[float, list[Journal]]] = (
    weakref.WeakKeyDictionary()
)


def journal_problem(journals: list[Journal], number: int, entry_type: EntryType) -> str | None:
    """Why journal `number` cannot take an entry of `entry_type`, naming those that can (no
    closing full stop: callers go on after it); None when it can."""
    journal = next((j for j in journals if j.journal_number == number), None)
    takers = [j for j in journals if j.accepts(entry_type)]
    could = (
        "Journals that take them: " + ", ".join(f"{j.journal_number} ('{j.name}')" for j in takers)
        if takers
        else "No journal of the agreement takes them; create one in e-conomic"
    )
    if journal is None:
        return f"Journal {number} does not exist in e-conomic. {could}"
    if journal.accepts(entry_type):
        return None
    only = journal.settings.entry_type_restricted_to if journal.settings else None
    return (
        f"Journal {number} ('{journal.name}') takes only entries of type {only}, not "
        f"{entry_type} entries. {could}"
    )


async def _journals(client: EconomicClient, *, fresh: bool = False) -> list[Journal]:
    kept = _JOURNALS.get(client)
    if fresh or kept is None or kept[0] <= time.monotonic():
        kept = (time.monotonic() + JOURNAL_SECONDS, await client.list_journals())
        _JOURNALS[client] = kept
    return kept[1]


async def check_journal_takes(client: EconomicClient, number: int, entry_type: EntryType) -> None:
    """LedgerRefused naming the journals that would take the entry, when `number` does not.
    A refusal is judged on a fresh read (the bookkeeper may just have changed the journal)."""
    if journal_problem(await _journals(client), number, entry_type) is None:
        return
    problem = journal_problem(await _journals(client, fresh=True), number, entry_type)
    if problem is not None:
        raise LedgerRefused(problem)  # the settings name a journal that cannot take it
