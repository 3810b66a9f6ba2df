"""Read helpers for the people pages; every query starts from ``visible_to``."""

from django.db.models import Prefetch

from qunli.core.crypto import blind_index
from qunli.core.identifiers import normalize_id_number
from qunli.orgs.models import Position

from .models import Membership, Person, Recognition, TeamMember, Training, VolunteerProfile


def looks_like_id_number(q: str) -> bool:
    v = normalize_id_number(q)
    return len(v) in (15, 18) and v[:-1].isdecimal()


def search_people(qs, q: str):
    """Exact ID number through the blind index (plaintext is never stored), else name."""
    q = (q or "").strip()
    if not q:
        return qs
    if looks_like_id_number(q):
        return qs.with_id_number_hash(blind_index(normalize_id_number(q)))
    return qs.filter(name__icontains=q)


def live_people(user):
    return Person.objects.visible_to(user).filter(merged_into__isnull=True)


def roles_of(user, person: Person) -> dict:
    """Every role of one person that the user may see: each through its own ``visible_to``."""
    volunteer = (VolunteerProfile.objects.visible_to(user).filter(person=person).select_related("unit")
                 .prefetch_related(Prefetch("trainings", queryset=Training.objects.order_by("-on")),
                                   Prefetch("recognitions", queryset=Recognition.objects.order_by("-on")))
                 .first())
    from .models import CadreProfile

    return {
        "memberships": list(Membership.objects.visible_to(user).filter(person=person)
                            .select_related("line", "unit").order_by("line__order", "joined_on")),
        "cadre": CadreProfile.objects.visible_to(user).filter(person=person).select_related("unit").first(),
        "volunteer": volunteer,
        "team_memberships": list(TeamMember.objects.visible_to(user).filter(person=person)
                                 .select_related("team", "team__unit").order_by("team__name")),
        "positions": list(Position.objects.visible_to(user).filter(person=person)
                          .select_related("unit").order_by("ended_on", "-started_on")),
    }


def duplicate_worklist(user, groups) -> list[dict]:
    """Expand ``people.actions.duplicate_groups`` rows into the visible people of each group
    with one query."""
    groups = list(groups)
    if not groups:
        return []
    names = {g["name"] for g in groups}
    hashes = {g["phone_hash"] for g in groups}
    people = (live_people(user).filter(name__in=names, phone_hash__in=hashes, id_number_hash="")
              .select_related("unit").order_by("created_at", "pk"))
    by_key: dict[tuple, list] = {}
    for p in people:
        by_key.setdefault((p.name, p.phone_hash), []).append(p)
    return [{"name": g["name"], "count": g["n"], "people": by_key.get((g["name"], g["phone_hash"]), [])}
            for g in groups]
