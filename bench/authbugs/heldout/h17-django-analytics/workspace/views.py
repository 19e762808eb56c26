import hashlib
import json

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_POST

from .auth import api_key_required
from .models import Invitation


@api_key_required
def events_summary(request):
    team = request.api_team
    return JsonResponse({"team": team.name, "events": []})


@login_required
@require_POST
def accept_invitation(request):
    token = json.loads(request.body or b"{}").get("token", "")
    digest = hashlib.sha256(str(token).encode()).hexdigest()
    with transaction.atomic():
        invitation = get_object_or_404(Invitation.objects.select_for_update(), token_digest=digest)
        if not invitation.is_valid() or invitation.email.lower() != request.user.email.lower():
            return JsonResponse({"error": "invitation not valid"}, status=400)
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        invitation.team.members.add(request.user)
    return JsonResponse({"team": invitation.team.name})
