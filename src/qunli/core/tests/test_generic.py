from qunli.core.generic import CappedPaginator
from qunli.orgs.models import Unit


def test_capped_paginator_counts_exactly_below_the_cap(tree):
    assert CappedPaginator(Unit.objects.all(), 5).count == len(tree)


def test_capped_paginator_stops_counting_past_the_cap(tree, monkeypatch):
    monkeypatch.setattr(CappedPaginator, "CAP", 3)
    paginator = CappedPaginator(Unit.objects.all(), 2)
    assert paginator.count == 4 and paginator.capped
    assert paginator.num_pages == 2
