import time

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache

from .actions import ActionError, change_own_password
from .generic import form_action_error


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says: send them to the icon."""
    return redirect(static("qunli/icon.svg"), permanent=True)


@never_cache
def healthz(request):
    started = time.perf_counter()
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        db = {"status": "ok", "vendor": connection.vendor}
    except Exception as e:  # a health check reports failure instead of raising it
        db = {"status": "error", "error": str(e)[:200]}
    ok = db["status"] == "ok"
    return JsonResponse({"status": "ok" if ok else "error", "database": db,
                         "elapsed_ms": round((time.perf_counter() - started) * 1000, 2)},
                        status=200 if ok else 503)


@login_required
def home(request):
    user = request.user
    if user.is_auditor:
        return redirect("core:changelog_list")
    if user.is_sysadmin or user.is_secadmin:
        return redirect("core:user_list")
    return redirect("reports:dashboard")


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(label="原密码", widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    new_password1 = forms.CharField(label="新密码", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                    help_text="至少10位，包含大写字母、小写字母、数字、符号中的至少三类。")
    new_password2 = forms.CharField(label="再次输入新密码", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if data.get("old_password") and not self.user.check_password(data["old_password"]):
            self.add_error("old_password", "原密码不正确。")
        if data.get("new_password1") != data.get("new_password2"):
            self.add_error("new_password2", "两次输入的新密码不一致。")
        return data


@login_required
def password_change(request):
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            change_own_password(request.user, form.cleaned_data["new_password1"])
        except ActionError as e:
            form_action_error(form, e, "new_password1")
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, "密码已修改。")
            return redirect("home")
    return render(request, "core/password_change.html", {"form": form, "forced": request.user.must_change_password})
