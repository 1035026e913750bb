from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.api.sagemaker.errors import AwsError
from turnout.api.sagemaker.pagination import Item, Query, matches, page

names = st.text(alphabet="abcd-", min_size=1, max_size=6)
items = st.lists(
    st.builds(
        lambda name, created, status: Item(name, float(created), name, created + 1.0, status),
        names,
        st.integers(0, 5),
        st.sampled_from(["InService", "Creating", "Failed"]),
    ),
    unique_by=lambda i: i.name,
    max_size=25,
)


def all_pages(listed: list[Item[str]], query: Query) -> list[str]:
    got, token = page(listed, query)
    for _ in range(100):
        if token is None:
            return got
        more, token = page(listed, Query(**{**query.__dict__, "next_token": token}))
        assert more, "a NextToken always leads to at least one more item"
        got += more
    raise AssertionError("pagination did not end")


@given(
    listed=items,
    sort_by=st.sampled_from(["Name", "CreationTime", "Status"]),
    descending=st.booleans(),
    max_results=st.integers(1, 7),
    contains=st.sampled_from([None, "a", "B"]),
)
def test_paging_yields_each_match_once_in_order(
    listed: list[Item[str]], sort_by: str, descending: bool, max_results: int, contains: str | None
) -> None:
    query = Query(sort_by, descending, max_results, name_contains=contains)
    key = {
        "Name": lambda i: (i.name, i.name),
        "CreationTime": lambda i: (i.creation_time, i.name),
        "Status": lambda i: (i.status, i.name),
    }[sort_by]
    expected = [i.value for i in sorted(listed, key=key, reverse=descending) if matches(i, query)]
    assert all_pages(listed, query) == expected


def test_a_page_resumes_after_the_last_item_even_if_items_changed() -> None:
    listed = [Item(n, float(t), n) for t, n in enumerate("abcde")]
    first, token = page(listed, Query(max_results=2))
    assert first == ["e", "d"]
    listed = [i for i in listed if i.name != "c"] + [Item("z", 9.0, "z")]  # deleted, added
    second, token = page(listed, Query(max_results=2, next_token=token))
    assert second == ["b", "a"] and token is None


def test_filters_on_times_and_status() -> None:
    item = Item("ep", 10.0, "ep", last_modified_time=20.0, status="InService")
    assert matches(item, Query(creation_time_after=9.0, creation_time_before=11.0))
    assert not matches(item, Query(creation_time_after=10.0))
    assert matches(item, Query(last_modified_time_before=21.0, status_equals="InService"))
    assert not matches(item, Query(last_modified_time_after=20.0))
    assert not matches(item, Query(status_equals="Failed"))
    assert matches(item, Query(name_contains="E"))


@pytest.mark.parametrize("token", ["garbage!", "bm90IGpzb24=", "WzFd"])
def test_a_bad_token_is_a_validation_error(token: str) -> None:
    with pytest.raises(AwsError, match="Invalid pagination token") as raised:
        page([Item("a", 1.0, "a")], Query(next_token=token))
    assert raised.value.code == "ValidationException"


def test_a_token_for_another_order_is_refused() -> None:
    listed = [Item(n, 1.0, n) for n in "abc"]
    _, token = page(listed, Query(sort_by="Name", max_results=1))
    with pytest.raises(AwsError, match="another SortBy or SortOrder"):
        page(listed, Query(sort_by="CreationTime", max_results=1, next_token=token))
