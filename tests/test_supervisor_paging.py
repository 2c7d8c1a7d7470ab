"""The supervisor's sessions table in pages of 50: filters and sort ride along in the links,
malformed page numbers never fail, and the CSV still has every matching call."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest

from webui.supervisor import PAGE_SIZE

ROW = re.compile(r'href="/supervisor/sessions/([\w-]+)"')


@pytest.fixture
def many(store):
    """120 ended calls (90 by trainee, 30 by trainee2), stored directly: fast, and enough for 3 pages."""
    ids = {"trainee": [], "trainee2": []}
    version = store.get_persona("suggestion")["version"]
    for n in range(120):
        name = "trainee" if n % 4 else "trainee2"
        sid = store.create_session(store.get_user_by_name(name)["id"], "suggestion", version, mode="practice")
        store.finish_session(sid, {"score": n % 101, "passed": n % 101 >= 80, "auto_fail": False,
                                   "findings": []}, end_reason="agent_hangup")
        store.execute("UPDATE sessions SET started_ts = ? WHERE id = ?", (1_700_000_000 + n, sid))
        ids[name].append(sid)
    return ids


@pytest.fixture
def sup(client, login_as):
    login_as("supervisor")
    return client


def rows(page: str) -> list[str]:
    return ROW.findall(page)


def links(page: str) -> dict:
    """{"prev": url, "next": url} of the pager (a missing key: no such page)."""
    return {rel: unescape(href) for rel, href in re.findall(r'<a rel="(prev|next)" href="([^"]+)"', page)}


def test_pages_of_fifty_and_the_last_one_short(sup, many):
    assert PAGE_SIZE == 50
    seen = []
    for n, size in ((1, 50), (2, 50), (3, 20)):
        page = sup.get(f"/supervisor/?page={n}").get_data(as_text=True)
        assert len(rows(page)) == size
        assert f"第 {n} 页，共 120 条" in page
        seen += rows(page)
    assert len(set(seen)) == 120  # no call twice, none skipped
    first = sup.get("/supervisor/").get_data(as_text=True)
    assert rows(first) == seen[:50] and "prev" not in links(first)
    assert links(first)["next"].startswith("/supervisor/?") and "page=2" in links(first)["next"]
    last = sup.get("/supervisor/?page=3").get_data(as_text=True)
    assert "next" not in links(last) and "page=2" in links(last)["prev"]


def test_filters_and_sort_survive_paging(sup, many, store):
    page1 = sup.get("/supervisor/?trainee=trainee&sort=score&dir=asc&score_min=5").get_data(as_text=True)
    nxt = links(page1)["next"]
    for part in ("trainee=trainee", "sort=score", "dir=asc", "score_min=5", "page=2"):
        assert part in nxt
    page2 = sup.get(nxt).get_data(as_text=True)
    total = sum(1 for n in range(120) if n % 4 and n % 101 >= 5)
    assert f"第 2 页，共 {total} 条" in page2 and "next" not in links(page2)
    got = rows(page1) + rows(page2)
    assert len(got) == total == len(set(got)) and set(got) <= set(many["trainee"])
    score = {r["id"]: r["score"] for r in store.rows("SELECT id, score FROM sessions")}
    assert [score[s] for s in got] == sorted(score[s] for s in got)  # ascending across the page break


def test_the_csv_has_every_filtered_row_not_one_page(sup, many):
    body = sup.get("/supervisor/sessions.csv?page=2").get_data(as_text=True).lstrip("\ufeff")
    assert len(list(csv.reader(io.StringIO(body)))) == 1 + 120
    body = sup.get("/supervisor/sessions.csv?trainee=trainee2").get_data(as_text=True).lstrip("\ufeff")
    assert len(list(csv.reader(io.StringIO(body)))) == 1 + 30
    page = sup.get("/supervisor/").get_data(as_text=True)
    assert "全部 120 条" in page


@pytest.mark.parametrize("value, shown", [("0", 1), ("-1", 1), ("abc", 1), ("", 1), ("2.5", 1),
                                          ("99999999999999999999999", 3), ("4", 3), ("3", 3)])
def test_bad_page_values_give_the_first_or_the_last_page(sup, many, value, shown):
    r = sup.get(f"/supervisor/?page={value}")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert f"第 {shown} 页，共 120 条" in page and len(rows(page)) == (20 if shown == 3 else 50)


def test_no_calls_is_page_one_of_none(sup):
    page = sup.get("/supervisor/?page=7").get_data(as_text=True)
    # one page (or none): just the count, no pager to click
    assert "共 0 条" in page and "第 1 页" not in page and "没有符合条件的通话" in page and not links(page)
    assert "下一页" not in page and "上一页" not in page
