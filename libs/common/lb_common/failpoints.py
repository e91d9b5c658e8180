"""Named crash points for fault-injection tests: the process dies on the spot, as under SIGKILL.

`LEDGERBRIDGE_FAILPOINTS=invoicing.after_draft_created` makes `failpoint("invoicing.after_draft_created")`
end the process with exit code 137 without cleanup. Unset (always, in production), it does nothing.
"""

from __future__ import annotations

import os


def failpoint(name: str) -> None:
    wanted = os.environ.get("LEDGERBRIDGE_FAILPOINTS", "")
    if wanted and name in {part.strip() for part in wanted.split(",")}:
        os._exit(137)
