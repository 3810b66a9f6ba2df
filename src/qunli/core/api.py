"""API authentication and the core endpoints."""

import hashlib

from django.utils import timezone
from ninja import Router, Schema
from ninja.security import HttpBearer

from .models import ApiToken


class TokenAuth(HttpBearer):
    """``Authorization: Bearer qlt_…``; tokens of inactive accounts or revoked tokens fail."""

    def authenticate(self, request, token):
        digest = hashlib.sha256(token.encode()).hexdigest()
        row = ApiToken.objects.select_related("user").filter(key_digest=digest, revoked=False).first()
        if row is None or not row.user.is_active:
            return None
        if row.last_used_at is None or (timezone.now() - row.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
        request.user = row.user
        request.api_token = row
        return row.user


router = Router(tags=["core"])


class MeOut(Schema):
    username: str
    display_name: str
    kind: str


@router.get("/me", response=MeOut, summary="当前账户")
def me(request):
    return request.auth
