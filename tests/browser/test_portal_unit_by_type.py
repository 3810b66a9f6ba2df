"""On the portal's 我要反映 form the chosen 诉求类型 narrows 「向哪个单位反映」 to the units of
its line (a county's list holds hundreds of units of every line); archives units take no
requests at all. A type no line owns brings the whole list back."""

import pytest

from conftest import add_unit
from qunli.casework.models import RequestType

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def visible_units(page) -> set[str]:
    return set(page.locator("#id_unit option:not([hidden])").all_inner_texts()) - {"请选择受理单位"}


def test_choosing_a_type_narrows_the_units_to_its_line(page, live_server, tree, lines):
    add_unit(tree["county"], name="示范县档案馆", level="county", line=lines["archives"])
    dv = RequestType.objects.get(code="domestic_violence")
    assert dv.line_id == lines["women"].pk
    unowned = RequestType.objects.get(code="legal_aid")  # seeded without a line
    assert unowned.line_id is None
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/portal/submit/")
    everything = visible_units(page)
    assert {"示范县妇联", "示范县总工会", "城关镇妇联"} <= everything and "示范县档案馆" not in everything
    page.locator("#id_type").select_option(str(dv.pk))
    assert visible_units(page) == {"示范县妇联", "城关镇妇联", "邻县妇联"}
    page.locator("#id_unit").select_option(label="城关镇妇联")
    page.locator("#id_type").select_option(str(unowned.pk))
    assert visible_units(page) == everything
    assert page.locator("#id_unit").input_value() == str(tree["town_women"].pk)  # still a choice shown
