"""Creating a QuickBooks document exactly once for one of our references.

Two guards, in order:
- `requestid` on the create: QuickBooks answers a repeat with the original reply and runs
  nothing (so a lost reply, retried, finds the document made). The id is derived from the
  company, the kind and our reference, so every retry, in any process, sends the same one.
  QuickBooks does not say how long it keeps them.
- A lookup before creating, for what the requestid cannot cover (a retry after that retention,
  or after a crash between create and record): the document's DocNumber is our reference when
  it fits (21 characters of letters, digits and `-_#./`), else `LB-` and 18 hex digits of its
  hash; PrivateNote holds `ledgerbridge:<kind>:<reference>` in full. PrivateNote cannot be
  queried, so the lookup queries DocNumber and confirms the note.
"""

from __future__ import annotations

import hashlib
import re

DOC_NUMBER_MAX = 21
REQUEST_ID_MAX = 50


def request_id(realm_id: str, kind: str, reference: str) -> str:
    """Stable and at most 50 characters: `lb-` and 40 hex digits of a hash."""
    digest = hashlib.sha256(f"{realm_id}\x00{kind}\x00{reference}".encode()).hexdigest()
    return f"lb-{digest[:40]}"


def private_note(kind: str, reference: str) -> str:
    return f"ledgerbridge:{kind}:{reference}"


def doc_number(reference: str) -> str:
    """Our reference as the DocNumber, or a stable stand-in when it does not fit."""
    if 0 < len(reference) <= DOC_NUMBER_MAX and re.fullmatch(r"[A-Za-z0-9_#./-]+", reference):
        return reference
    return "LB-" + hashlib.sha256(reference.encode()).hexdigest()[:18]
