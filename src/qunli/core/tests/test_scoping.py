from qunli.core.scoping import CHANGE, can
from qunli.orgs.models import Unit


def test_line_grant_sees_own_line_and_region_nodes_but_not_other_lines(accounts, tree):
    visible = set(Unit.objects.visible_to(accounts["women_staff"]).values_list("name", flat=True))
    assert {"示范县", "示范县妇联", "城关镇妇联", "东风村妇联", "城关镇"} <= visible
    assert "示范县总工会" not in visible
    assert "邻县妇联" not in visible and "湖南省" not in visible


def test_party_office_sees_all_lines_in_its_region_only(accounts, tree):
    visible = set(Unit.objects.visible_to(accounts["party_office"]).values_list("name", flat=True))
    assert {"示范县总工会", "示范县妇联", "示范县关工委", "东风村妇联"} <= visible
    assert not visible & {"邻县", "邻县妇联", "湖南省"}


def test_clerk_reaches_only_its_own_unit(accounts, tree):
    assert list(Unit.objects.visible_to(accounts["clerk"]).values_list("name", flat=True)) == ["东风村妇联"]


def test_leader_reads_but_cannot_change(accounts, tree):
    leader = accounts["leader"]
    assert Unit.objects.visible_to(leader).filter(pk=tree["union"].pk).exists()
    assert not Unit.objects.visible_to(leader, CHANGE).exists()
    assert not can(leader, CHANGE, tree["union"])


def test_administrators_see_no_business_data(accounts, tree):
    for kind in ("sysadmin", "secadmin", "auditor"):
        assert not Unit.objects.visible_to(accounts[kind]).exists()


def test_can_agrees_with_visible_to_for_every_account_and_unit(accounts, tree):
    for user in accounts.values():
        for action in ("view", "change"):
            listed = set(Unit.objects.visible_to(user, action).values_list("pk", flat=True))
            checked = {u.pk for u in tree.values() if can(user, action, u)}
            assert listed == checked, (user.username, action)
