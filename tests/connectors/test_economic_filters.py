from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from lb_connectors.economic.filters import Field, escape, or_
from lb_connectors.economic.paths import encode_id


def test_escape_covers_every_special_character() -> None:
    assert escape("a$b(c)d*e,f[g]h") == "a$$b$(c$)d$*e$,f$[g$]h"


def test_dollar_is_escaped_first_so_escapes_are_not_doubled() -> None:
    assert escape("($)") == "$($$$)"


def test_builder_renders_operators_and_grouping() -> None:
    name = Field("name").eq("Joe")
    inner = Field("city").like_pattern("*port") | Field("age").lt(40)
    assert str(name & inner) == "name$eq:Joe$and:(city$like:*port$or:age$lt:40)"
    assert str(Field("customerNumber").in_([2, 5, 7])) == "customerNumber$in:[2,5,7]"
    assert str(Field("ean").eq(None)) == "ean$eq:$null:"
    assert str(Field("barred").eq(True)) == "barred$eq:true"
    assert str(Field("balance").gte(Decimal("10.50"))) == "balance$gte:10.50"


def test_datetimes_must_be_aware_and_render_utc() -> None:
    stamp = dt.datetime(2024, 1, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert str(Field("lastUpdated").gt(stamp)) == "lastUpdated$gt:2024-01-01T00:00:00Z"
    with pytest.raises(ValueError):
        Field("lastUpdated").gt(dt.datetime(2024, 1, 1))


def test_in_is_numeric_only_and_bounded() -> None:
    with pytest.raises(ValueError):
        Field("x").in_([])
    with pytest.raises(ValueError):
        Field("x").in_(range(201))
    assert str(or_(Field("a").eq(1))) == "a$eq:1"


def test_product_number_self_link_escapes() -> None:
    assert encode_id("A_1/B C") == "A_8_1_6_B_9_C"
    assert encode_id("x.y:z") == "x_11_y_4_z"
