"""划控 leak tests: a controlled (控制使用), an undecided (待定), a secret, a confidential and an
unfiled item never reach the public — not in the portal catalogue (list, filters, search by a
word found only in that item, detail by id, xlsx export), not in the request form, not in the
public API (list, search, detail by id), and not through any other public route a pk can be
put into. ``Item.objects.public()`` is the one rule behind all of them."""

import io
import itertools
import json

import openpyxl
import pytest
from django.db.models import Q
from django.test import Client
from django.urls import reverse

from qunli.core.actions import ActionError
from qunli.portal import actions as portal_actions
from qunli.records import actions, use
from qunli.records import public as public_rule
from qunli.records.models import Item, UseRequest
from qunli.records.tests.conftest import HIDDEN_WORDS

pytestmark = pytest.mark.django_db

GENEROUS = {k: (100_000, 3600) for k in ("catalogue_export_ip", "use_ip", "use_phone", "reading_ip", "reading_code",
                                         "page_ip", "verify_ip")}


@pytest.fixture(autouse=True)
def generous(settings):
    settings.QUNLI_PORTAL_RATE_LIMITS = GENEROUS


def text_of(response) -> str:
    raw = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    if raw[:2] == b"PK":
        wb = openpyxl.load_workbook(io.BytesIO(raw), read_only=True)
        return "\n".join(str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row
                         if v is not None)
    text = raw.decode("utf-8", errors="replace")
    if response.get("Content-Type", "").startswith("application/json"):
        text = json.dumps(json.loads(text), ensure_ascii=False)
    return text


def hidden(holdings):
    return {k: holdings[k] for k in HIDDEN_WORDS}


@pytest.mark.parametrize("status,openness,classification", list(itertools.product(
    ["pending", "filed"], ["open", "controlled", "pending"], ["public", "internal", "secret", "confidential"])))
def test_public_is_exactly_filed_open_and_not_secret(capture, accounts, status, openness, classification):
    item = capture(openness=openness, classification=classification)
    if status == "filed":
        actions.file_items(accounts["women_staff"], [item.pk])
    expected = status == "filed" and openness == "open" and classification in ("public", "internal")
    assert Item.objects.public().filter(pk=item.pk).exists() is expected


def test_the_open_items_are_public_and_the_others_are_not(holdings):
    assert set(Item.objects.public().values_list("pk", flat=True)) == {holdings["open"].pk, holdings["open2"].pk}


def test_catalogue_list_filters_and_export_show_only_open_items(client, holdings):
    url = reverse("portal:catalogue")
    queries = [{}, {"year": 1980}, {"year": 1970}, {"fonds": holdings["open"].fonds_id},
               {"category": holdings["open"].category_id}, {"export": "xlsx"}, {"year": 1980, "export": "xlsx"},
               {"q": "婚姻登记"}, {"q": "婚姻登记", "export": "xlsx"}]
    for query in queries:
        r = client.get(url, query)
        assert r.status_code == 200, query
        text = text_of(r)
        for kind, item in hidden(holdings).items():
            assert item.title not in text, (query, kind)
            assert item.archival_code is None or item.archival_code not in text, (query, kind)
            assert HIDDEN_WORDS[kind] not in text.replace(f"“{query.get('q', '')}”", ""), (query, kind)
    assert holdings["open"].title in text_of(client.get(url, {"q": "婚姻登记"}))
    assert holdings["open"].title in text_of(client.get(url, {"q": "婚姻登记", "export": "xlsx"}))


@pytest.mark.parametrize("kind", sorted(HIDDEN_WORDS))
def test_searching_a_word_only_a_hidden_item_has_finds_nothing(client, holdings, kind):
    word = HIDDEN_WORDS[kind]
    r = client.get(reverse("portal:catalogue"), {"q": word})
    assert r.status_code == 200 and "共 0 条" in r.content.decode()
    assert holdings[kind].title not in r.content.decode()
    xlsx = text_of(client.get(reverse("portal:catalogue"), {"q": word, "export": "xlsx"}))
    assert word not in xlsx
    api = client.get("/api/public/items", {"q": word})
    assert api.status_code == 200 and api.json() == {"items": [], "count": 0}


FILE_TEXT = "申请人王某某与李某某一九八五年登记结婚，身份证号码见附页。夫妻感情破裂情况说明。"
FILE_ONLY_WORDS = ("感情破裂", "身份证号码", "王某某", "登记结婚")


def test_a_word_only_in_a_files_text_finds_nothing_publicly_and_never_appears(client, capture, accounts,
                                                                           django_capture_on_commit_callbacks):
    """The public sees catalogue information only. The text of an *open* item's file — read
    through a 利用 request, watermarked — is neither searchable nor quoted on any public path:
    portal search and its snippets, the xlsx export, the public API; staff search still finds it."""
    import datetime as dt

    from qunli.records import queries

    with django_capture_on_commit_callbacks(execute=True):
        item = capture(title="关于婚姻登记档案查询的复函", openness="open", classification="internal",
                       date=dt.date(1985, 3, 1), files=[("复函正文.txt", FILE_TEXT.encode())])
        actions.file_items(accounts["women_staff"], [item.pk])
    item = Item.objects.get(pk=item.pk)
    assert Item.objects.public().filter(pk=item.pk).exists()
    for word in FILE_ONLY_WORDS:  # indexed for staff: the file text is in the full-text index
        assert queries.search_ids(Item.objects.visible_to(accounts["women_staff"]), word) == [item.pk], word
    url = reverse("portal:catalogue")
    for word in FILE_ONLY_WORDS:
        page = client.get(url, {"q": word})
        assert page.status_code == 200 and "共 0 条" in page.content.decode() and item.title not in text_of(page)
        assert item.title not in text_of(client.get(url, {"q": word, "export": "xlsx"}))
        assert client.get("/api/public/items", {"q": word}).json() == {"items": [], "count": 0}
    # found by its catalogue, yet no public answer quotes its file: not the snippet, not the export
    answers = [client.get(url, {"q": "婚姻登记"}), client.get(url, {"q": "婚姻登记", "export": "xlsx"}), client.get(url),
               client.get("/api/public/items", {"q": "婚姻登记"}), client.get("/api/public/items"),
               client.get(reverse("portal:catalogue_item", args=[item.pk])), client.get(f"/api/public/items/{item.pk}")]
    assert item.title in text_of(answers[0]) and "<mark>婚姻登记</mark>" in text_of(answers[0])
    assert {i["id"] for i in answers[3].json()["items"]} == {item.pk}
    for r in answers:
        assert r.status_code == 200
        text = text_of(r)
        assert not [w for w in FILE_ONLY_WORDS if w in text], r


@pytest.mark.parametrize("kind", sorted(HIDDEN_WORDS))
def test_every_public_route_naming_a_hidden_item_is_a_404(client, holdings, kind):
    """Every public URL pattern with a pk, discovered from the resolver, filled with the hidden
    item's id: GET and POST, no body, no leak."""
    from tests.test_authorization_matrix import discover_routes

    pk = holdings[kind].pk
    public_item_routes = [r for r in discover_routes() if r.names_object and (
        r.template.startswith("/portal/catalogue/") or r.template.startswith("/api/public/"))]
    assert len(public_item_routes) >= 3
    for route in public_item_routes:
        url = route.url(pk)
        for method in ("get", "post"):
            r = getattr(client, method)(url)
            assert r.status_code in (404, 405), (url, method, r.status_code)
            assert holdings[kind].title not in text_of(r) and HIDDEN_WORDS[kind] not in text_of(r), url


def test_open_item_detail_shows_catalogue_fields_and_no_files(client, holdings):
    item = holdings["open"]
    r = client.get(reverse("portal:catalogue_item", args=[item.pk]))
    page = r.content.decode()
    assert r.status_code == 200 and item.title in page and item.archival_code in page
    assert "/records/files/" not in page and "download" not in page.lower()


def test_api_lists_and_shows_only_open_items_without_login(client, holdings):
    r = client.get("/api/public/items")
    assert r.status_code == 200
    assert {i["id"] for i in r.json()["items"]} == {holdings["open"].pk, holdings["open2"].pk}
    assert client.get(f"/api/public/items/{holdings['open'].pk}").json()["title"] == holdings["open"].title
    for kind, item in hidden(holdings).items():
        assert client.get(f"/api/public/items/{item.pk}").status_code == 404, kind
    found = client.get("/api/public/items", {"q": "婚姻登记"}).json()
    assert {i["id"] for i in found["items"]} == {holdings["open"].pk, holdings["open2"].pk}
    by_year = client.get("/api/public/items", {"year": 1980}).json()
    assert by_year == {"items": [], "count": 0}


@pytest.mark.parametrize("kind", sorted(HIDDEN_WORDS))
def test_online_request_for_a_hidden_item_is_refused(holdings, kind):
    with pytest.raises(ActionError):
        use.submit_online(portal_actions.portal_account(), item_pk=holdings[kind].pk, reader_name="张三",
                          phone="13900001111", purpose="marriage")
    assert not UseRequest.objects.exists()


def test_a_registered_exclusion_hides_an_open_item_everywhere(client, holdings):
    """The hook the preservation module uses for destroyed items: one registration and the
    item is gone from every public path."""
    target = holdings["open2"]

    def gone():
        return Q(pk=target.pk)

    public_rule.exclude_from_public(gone)
    try:
        assert not Item.objects.public().filter(pk=target.pk).exists()
        assert client.get(reverse("portal:catalogue_item", args=[target.pk])).status_code == 404
        assert target.title not in text_of(client.get(reverse("portal:catalogue"), {"q": "婚姻登记"}))
        assert client.get(f"/api/public/items/{target.pk}").status_code == 404
    finally:
        public_rule._EXCLUSIONS.remove(gone)


def test_reopening_decision_moves_an_item_in_and_out_of_the_catalogue(client, holdings, accounts):
    """The catalogue follows the 开放标识 at query time: no cache or index to go stale."""
    from qunli.records import opening

    item = holdings["undecided"]
    review = opening.requeue(accounts["women_staff"], item, reason="到期，提交鉴定")
    opening.decide_opening(accounts["women_staff"], [review.pk], decision="open", reason="经鉴定可以开放")
    r = client.get(reverse("portal:catalogue"), {"q": HIDDEN_WORDS["undecided"]})
    assert item.title in r.content.decode()
    assert Client().get(f"/api/public/items/{item.pk}").status_code == 200


def test_catalogue_pages_have_a_query_count_baseline(client, holdings, capture, accounts,
                                                     django_assert_max_num_queries):
    more = [capture(title=f"婚姻登记第{i}批", openness="open") for i in range(25)]
    actions.file_items(accounts["women_staff"], [i.pk for i in more])
    with django_assert_max_num_queries(8):
        r = client.get(reverse("portal:catalogue"))
    assert r.status_code == 200 and "第 1 / 2 页" in r.content.decode()
    with django_assert_max_num_queries(10):
        r = client.get(reverse("portal:catalogue"), {"q": "婚姻登记", "year": 2023})
    assert r.status_code == 200
    with django_assert_max_num_queries(6):
        assert client.get(reverse("portal:catalogue_item", args=[holdings["open"].pk])).status_code == 200
    with django_assert_max_num_queries(6):
        assert client.get("/api/public/items", {"limit": 50}).json()["count"] == 27


def test_bad_filter_values_are_ignored_and_explained_not_errors(client, holdings):
    r = client.get(reverse("portal:catalogue"), {"q": "婚姻登记", "year": "一九八五", "fonds": "x", "category": "999"})
    page = r.content.decode()
    assert r.status_code == 200 and holdings["open"].title in page
    assert all(h.title not in page for h in hidden(holdings).values())
    assert client.get("/api/public/items", {"year": "abc"}).status_code == 422


def test_the_public_api_answers_nothing_for_a_fonds_it_does_not_list_and_names_the_filter_ids(client, holdings):
    items = client.get("/api/public/items").json()["items"]
    assert items and {"fonds_id", "category_id"} <= set(items[0])
    assert client.get("/api/public/items", {"fonds": items[0]["fonds_id"]}).json()["count"] >= 1
    assert client.get("/api/public/items", {"fonds": 999_999}).json() == {"items": [], "count": 0}
