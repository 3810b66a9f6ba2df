"""Screen readers reach a field's help and its errors: every id a control names in
aria-describedby exists on the page (Django's widgets name <id>_helptext and <id>_error; the
templates used to give other ids, so nothing was read out), and required checkboxes say so."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from qunli.portal.tests.test_portal import form_data, generous  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.described = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if attrs.get("aria-describedby"):
            self.described.append((attrs.get("name"), attrs["aria-describedby"].split()))


def dangling_descriptions(html: str) -> list:
    page = _Ids()
    page.feed(html)
    assert page.described, "no control names a description: the check would prove nothing"
    return [(name, ref) for name, refs in page.described for ref in refs if ref not in page.ids]


def test_portal_submit_form_points_at_help_and_errors_that_exist(client, tree, generous):  # noqa: F811
    assert dangling_descriptions(client.get(reverse("portal:submit")).content.decode()) == []
    r = client.post(reverse("portal:submit"), form_data(tree, phone="123", consent=""))
    html = r.content.decode()
    assert "请" in html and dangling_descriptions(html) == []
    assert 'aria-describedby="id_phone_helptext id_phone_error"' in html or "id_phone_error" in html


def test_required_consent_box_is_marked_required(client, tree):
    """Seen (the star every required field has) and announced (the input's required attribute)."""
    html = client.get(reverse("portal:submit")).content.decode()
    consent_label = html[html.index('<label class="form-check-label" for="id_consent"'):]
    assert '<span class="text-danger" aria-hidden="true">*</span>' in consent_label[:200]
    consent_input = html[html.index('id="id_consent"') - 200:html.index('id="id_consent"') + 50]
    assert "required" in consent_input


def test_staff_form_errors_are_linked_to_their_fields(client_for, accounts, tree):
    w = client_for(accounts["women_staff"])
    html = w.post(reverse("casework:intake"), {"unit": tree["women"].pk, "requester_phone": "123"}).content.decode()
    assert "invalid-feedback" in html and dangling_descriptions(html) == []
