"""Settings for the ``portal`` benchmark's peer: Qunli's settings, with this module as the
URLconf adding five bare endpoints (``/bare/…``) that do what the portal's steps do with
nothing around them: a static form, one plain ORM insert of a request and its case (no
validation, sealing, audit log, rate limit, session or CSRF), the code echoed back, a
lookup by code. Served from the same kind of database copy by the same gunicorn setup."""

from qunli.settings import *  # noqa: F403

ROOT_URLCONF = "bench.portal_bare_settings"

FORM = ('<!doctype html><meta charset="utf-8"><form method="post"><input name="unit"><input name="type">'
        '<input name="name"><input name="phone"><textarea name="description"></textarea></form>')


def __getattr__(name):
    if name != "urlpatterns":
        raise AttributeError(name)
    import datetime as dt

    from django.db import transaction
    from django.http import HttpResponse, HttpResponseRedirect
    from django.urls import path
    from django.utils import timezone
    from django.views.decorators.csrf import csrf_exempt

    import qunli.urls
    from qunli.casework.models import Case, Request, new_tracking_code

    @csrf_exempt
    def submit(request):
        if request.method != "POST":
            return HttpResponse(FORM)
        p = request.POST
        today = timezone.localdate()
        with transaction.atomic():
            req = Request.objects.create(channel="online", type_id=p["type"], unit_id=p["unit"],
                                         requester_name_mask=p["name"][:1] + "*",
                                         requester_phone_mask=p["phone"][:3] + "****" + p["phone"][-4:],
                                         tracking_code=new_tracking_code())
            Case.objects.create(request=req, unit_id=p["unit"], acknowledge_due=today + dt.timedelta(days=1),
                                resolve_due=today + dt.timedelta(days=15))
        return HttpResponseRedirect(f"/bare/submitted/?code={req.tracking_code}")

    def submitted(request):
        return HttpResponse(f'<p id="tracking-code">{request.GET.get("code", "")}</p>')

    @csrf_exempt
    def track(request):
        if request.method != "POST":
            return HttpResponse(FORM)
        req = Request.objects.filter(tracking_code=request.POST.get("code", "")).select_related("case").first()
        if req is None or req.requester_phone_mask[-4:] != request.POST.get("last4"):
            return HttpResponse("not found")
        return HttpResponse(f"{req.tracking_code} status={req.case.status}")

    return [path("bare/submit/", submit), path("bare/submitted/", submitted), path("bare/track/", track),
            *qunli.urls.urlpatterns]
