from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lb_connectors.economic.filters import Field, escape, or_
from lb_connectors.economic.paths import encode_id
from lb_sandbox.economic.filtering import Cond, Junction, parse_filter
from lb_sandbox.economic.paths import decode_id


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


_TEXT = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 :-_.@$()*,[]&|=!'\"æøå")), min_size=1, max_size=30
)


@given(a=_TEXT, b=_TEXT)
def test_escaped_values_parse_back_exactly(a: str, b: str) -> None:
    # The client's escaping and the sandbox's parser must agree on every value.
    expression = str(Field("name").eq(a) | (Field("city").ne(b) & Field("zip").like(b)))
    node = parse_filter(expression, ["name", "city", "zip"])
    assert isinstance(node, Junction) and node.op == "or"
    first, second = node.items
    assert first == Cond("name", "eq", a)
    assert isinstance(second, Junction) and second.items == (
        Cond("city", "ne", b),
        Cond("zip", "like", b),
    )


@given(st.text(alphabet=st.sampled_from(list("AZ09-_<>*%:&/\\ ?.#+æ")), min_size=1, max_size=25))
def test_product_number_path_escaping_round_trips(number: str) -> None:
    assert decode_id(unquote(encode_id(number))) == number
