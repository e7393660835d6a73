"""Money, ids, credentials encryption, signed tokens, search patterns and timezone-aware
columns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet

from storesync.core.crypto import CredentialBox
from storesync.core.errors import AppError
from storesync.core.ids import new_id
from storesync.core.models import UTCDateTime
from storesync.core.money import Money
from storesync.core.pagination import contains_pattern


def test_money_quantizes_by_currency_and_refuses_floats() -> None:
    assert Money.of("59000.4", "idr") == Money(Decimal("59000"), "IDR")
    assert Money.of("12.345", "SGD").amount == Decimal("12.35")
    with pytest.raises(TypeError):
        Money.of(1.5, "SGD")
    with pytest.raises(ValueError, match="currency"):
        Money.of("1", "dollars")


def test_ids_are_version_7_and_time_ordered() -> None:
    ids = [new_id() for _ in range(50)]

    assert {i.version for i in ids} == {7}
    assert len(set(ids)) == 50
    assert [i.int >> 80 for i in ids] == sorted(i.int >> 80 for i in ids)


def test_credentials_round_trip_and_rotate_to_the_new_key() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = CredentialBox([old]).seal({"access_token": "tok-secret"})

    rotated = CredentialBox([new, old]).rotate(sealed)

    assert CredentialBox([new]).open(rotated) == {"access_token": "tok-secret"}
    assert "tok-secret" not in sealed and "tok-secret" not in repr(CredentialBox([new]))
    with pytest.raises(AppError, match="cannot be decrypted"):
        CredentialBox([new]).open(sealed)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), None)  # type: ignore[arg-type]


def test_search_patterns_match_a_substring_with_wildcards_taken_literally() -> None:
    assert contains_pattern("kaos") == "%kaos%"
    assert contains_pattern("50%_off\\") == "%50\\%\\_off\\\\%"


def test_a_typed_cursor_reads_its_values_and_refuses_altered_ones() -> None:
    import uuid

    from storesync.core.errors import ValidationFailed
    from storesync.core.pagination import decode_typed, encode_cursor

    an_id = uuid.uuid4()
    assert decode_typed(encode_cursor(7, an_id), int, uuid.UUID) == [7, an_id]
    for altered in (encode_cursor("seven", an_id), encode_cursor(7, "nope"), encode_cursor(7)):
        with pytest.raises(ValidationFailed) as refused:
            decode_typed(altered, int, uuid.UUID)
        assert refused.value.details["field"] == "cursor"
