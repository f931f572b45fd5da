"""``insert_columns`` builds a batch's insert arrays straight from the requests: it must give
exactly what ``insert_params(new_transfer(...))`` gives for each, whatever the requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tongka.ledger import TransferRequest
from tongka.ledger.statements import TRANSFER_COLUMNS
from tongka.ledger.validation import insert_columns, insert_params, new_transfer

identifiers = st.text(min_size=1, max_size=12)
requests = st.builds(
    TransferRequest,
    transfer_id=identifiers,
    debit_account_id=identifiers,
    credit_account_id=identifiers,
    amount=st.integers(min_value=1, max_value=2**53),
    currency=st.sampled_from(["CNY", "USD", "JPY"]),
    code=identifiers,
    reference=st.none() | identifiers,
    metadata=st.dictionaries(identifiers, st.integers() | identifiers, max_size=3),
    pending=st.booleans(),
    timeout_seconds=st.none() | st.integers(min_value=1, max_value=86_400),
)
# Hypothesis takes naive bounds and attaches the time zone itself
moments = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@given(batch=st.lists(requests, max_size=8), now=moments)
def test_insert_columns_are_the_insert_params_of_each_new_transfer(
    batch: list[TransferRequest], now: datetime
) -> None:
    columns = insert_columns(batch, now)

    expected = [insert_params(new_transfer(request, 0, now)) for request in batch]
    assert set(columns) == set(TRANSFER_COLUMNS)
    for name in TRANSFER_COLUMNS:
        assert columns[name] == [row[name] for row in expected], name


def test_a_pending_request_expires_after_its_timeout_and_others_never() -> None:
    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    pending = TransferRequest("p", "a", "b", 5, "CNY", "hold", pending=True, timeout_seconds=90)
    posted = TransferRequest("q", "a", "b", 5, "CNY", "pay", timeout_seconds=90)

    columns = insert_columns([pending, posted], now)

    assert columns["kind"] == ["pending", "single"]
    assert columns["expires_at"] == [now + timedelta(seconds=90), None]
    assert columns["timeout_seconds"] == [90, None]
