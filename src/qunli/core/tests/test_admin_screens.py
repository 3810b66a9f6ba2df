from django.urls import reverse

from qunli.core.models import ChangeLog, Grant


def test_security_admin_finds_a_unit_by_name_and_grants_it(client_for, accounts, tree, lines):
    client = client_for(accounts["secadmin"])
    page = client.get(reverse("core:user_detail", args=[accounts["union_staff"].pk])).content.decode()
    assert 'id="grant-unit-q"' in page and 'name="unit"' in page
    found = client.get(reverse("core:grant_unit_search"), {"unit_q": "东风村"}).content.decode()
    assert "湖南省 › 示范县 › 城关镇 › 东风村 › 东风村妇联" in found
    by_code = client.get(reverse("core:grant_unit_search"), {"unit_q": "430122"}).content.decode()
    assert "邻县" in by_code and "东风村" not in by_code
    chosen = client.get(reverse("core:grant_unit_search"), {"pick": tree["town_women"].pk}).content.decode()
    assert "城关镇妇联" in chosen and f'"{tree["town_women"].pk}"' in chosen

    target = accounts["union_staff"]
    response = client.post(reverse("core:user_detail", args=[target.pk]),
                           {"op": "grant", "role": "clerk", "unit": tree["town_women"].pk, "lines": [lines["women"].pk]})
    assert response.status_code == 302
    assert Grant.objects.filter(user=target, unit=tree["town_women"], role="clerk").exists()
    assert ChangeLog.objects.filter(action="core.add_grant").exists()


def test_grant_without_a_unit_is_refused_with_a_message(client_for, accounts):
    client = client_for(accounts["secadmin"])
    target = accounts["union_staff"]
    before = Grant.objects.filter(user=target).count()
    response = client.post(reverse("core:user_detail", args=[target.pk]), {"op": "grant", "role": "staff"},
                           follow=True)
    assert "请选择单位" in response.content.decode()
    assert Grant.objects.filter(user=target).count() == before


def test_unit_search_is_for_the_security_admin_only(client_for, accounts):
    for name in ("sysadmin", "auditor", "women_staff"):
        response = client_for(accounts[name]).get(reverse("core:grant_unit_search"), {"unit_q": "县"})
        assert response.status_code == 403, name


def test_system_admin_creates_an_account_with_an_initial_password(client_for, accounts):
    from qunli.core.models import User

    response = client_for(accounts["sysadmin"]).post(reverse("core:user_list"),
                                                      {"username": "xinren", "display_name": "新人", "kind": "business"},
                                                      follow=True)
    assert "初始密码" in response.content.decode()
    assert User.objects.get(username="xinren").must_change_password
