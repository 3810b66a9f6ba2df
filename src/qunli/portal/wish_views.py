"""The portal's wishes wall (心愿墙), the claim form, the thank-you page, and the public
practical-projects list (我为群众办实事).

Reads only what staff published: ``wish_actions.wall_wishes`` (published, claimed or
fulfilled wishes; never pending, rejected or unpublished ones — those are a 404) with the
public name (张*), the age range, the wish, its category and amount and the unit's name;
no served-person row is joined. ``published_projects`` likewise. The claim form has the
submit form's anti-abuse: body size limit (413), rate limits per IP and per phone
(``portal.ratelimit``, 429), a honeypot (400), field size limits."""

from django import forms
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods

from qunli.casework import wish_actions
from qunli.casework.models import PracticalProject, Wish, WishCategory
from qunli.core.params import parse_id
from qunli.orgs.models import Unit

from . import actions
from .forms import PublicForm, name_field, phone_field
from .views import _too_big_plain, guarded_form

WALL_PAGE = 12
PROJECTS_MAX = 500  # a county publishes tens a year; the cap only bounds the page
SESSION_CLAIMED = "portal_claimed_unit"


class ClaimForm(PublicForm):
    name = name_field()
    phone = phone_field("负责单位将通过此号码与您联系；号码加密保存，不会公开。")
    org = forms.CharField(label="单位或组织（可选）", max_length=100, required=False,
                          error_messages={"max_length": "单位或组织不能超过100字。"})
    consent = forms.BooleanField(label="我同意负责单位使用以上信息与我联系圆梦事宜。",
                                 error_messages={"required": "请勾选同意，负责单位才能与您联系。"})


@require_GET
def wall(request):
    wishes = wish_actions.wall_wishes()
    unit_id, category = parse_id(request.GET.get("unit")), request.GET.get("category", "")
    if unit_id is not None:
        wishes = wishes.filter(unit_id=unit_id)
    if category in WishCategory.values:
        wishes = wishes.filter(category=category)
    else:
        category = ""
    waiting = wishes.filter(status=Wish.Status.PUBLISHED).order_by("-published_at", "-id")
    page = Paginator(waiting, WALL_PAGE).get_page(request.GET.get("page"))
    fulfilled = list(wishes.filter(status=Wish.Status.FULFILLED).order_by("-fulfilled_at", "-id")[:WALL_PAGE])
    units = Unit.objects.filter(pk__in=wish_actions.wall_wishes().values("unit_id")).only("id", "name") \
        .order_by("path")
    params = request.GET.copy()
    params.pop("page", None)
    return render(request, "portal/wishes.html", {
        "page": page, "fulfilled": fulfilled, "units": units, "unit_id": unit_id, "category": category,
        "categories": WishCategory.choices, "querystring": params.urlencode()})


def _wall_wish(pk) -> Wish:
    w = wish_actions.wall_wishes().filter(pk=pk).first()
    if w is None:
        raise Http404("该微心愿不存在或未发布。")
    return w


@require_http_methods(["GET", "POST"])
def claim(request, pk):
    wish = _wall_wish(pk)

    def perform(d):
        wish_actions.claim_wish(actions.portal_account(), wish.pk, name=d["name"], phone=d["phone"], org=d["org"])
        request.session[SESSION_CLAIMED] = wish.unit.name
        return redirect("portal:wish_thanks")

    # the wish is read again for the page after a refusal (someone else may just have claimed it)
    return guarded_form(request, form_class=ClaimForm, template="portal/wish_claim.html",
                        context=lambda: {"wish": _wall_wish(pk)}, ip_limit="claim_ip", phone_limit="claim_phone",
                        posts_limit="claim_posts_ip", perform=perform, too_big=_too_big_plain)


@require_GET
def thanks(request):
    unit_name = request.session.pop(SESSION_CLAIMED, None)
    response = render(request, "portal/wish_thanks.html", {"unit_name": unit_name})
    add_never_cache_headers(response)
    return response


@require_GET
def projects(request):
    rows = list(wish_actions.published_projects()[:PROJECTS_MAX])
    groups = [(label, [p for p in rows if p.status == value]) for value, label in
              [(PracticalProject.Status.IN_PROGRESS, "推进中"), (PracticalProject.Status.PLANNED, "计划"),
               (PracticalProject.Status.DELAYED, "已延期"), (PracticalProject.Status.COMPLETED, "已完成")]]
    return render(request, "portal/projects.html", {"groups": [(lbl, ps) for lbl, ps in groups if ps]})
