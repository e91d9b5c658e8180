"""What a process takes in at once is bounded by settings that are themselves bounded: a value
that would let a backlog become memory (a prefetch of 100,000 messages, a batch of a whole
table) is refused at start, naming the setting, not taken."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lb_common.settings import CommonSettings
from lb_ingest.settings import IngestSettings


@pytest.mark.parametrize(
    ("variable", "largest"),
    [("LEDGERBRIDGE_PREFETCH", 1_000), ("LEDGERBRIDGE_RETENTION_BATCH_SIZE", 10_000)],
)
def test_a_common_bound_is_taken_up_to_its_limit_and_refused_past_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, largest: int
) -> None:
    monkeypatch.setenv(variable, str(largest))
    CommonSettings()
    monkeypatch.setenv(variable, str(largest + 1))
    with pytest.raises(ValidationError, match=variable.removeprefix("LEDGERBRIDGE_").lower()):
        CommonSettings()


def test_the_stalled_order_check_reads_a_bounded_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERBRIDGE_INGEST_STALL_BATCH", "10000")
    assert IngestSettings().stall_batch == 10_000
    monkeypatch.setenv("LEDGERBRIDGE_INGEST_STALL_BATCH", "10001")
    with pytest.raises(ValidationError, match="stall_batch"):
        IngestSettings()
