import json

from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from .forms import ProfileForm, SignupForm
from .models import Member


def signup(request):
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = get_user_model().objects.create_user(data["username"], data["email"], data["password"])
        Member.objects.create(user=user, display_name=data["display_name"])
        login(request, user)
        return redirect("members:profile")
    return render(request, "members/signup.html", {"form": form})


@login_required
def edit_profile(request):
    form = ProfileForm(request.POST or None, instance=request.user.member)
    if request.method == "POST" and form.is_valid():
        form.save()
        return redirect("members:profile")
    return render(request, "members/edit.html", {"form": form})


@login_required
@require_http_methods(["PATCH"])
def api_update_profile(request):
    try:
        payload = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "invalid json"}, status=400)
    member = request.user.member
    for field, value in payload.items():
        if field != "id" and hasattr(member, field):
            setattr(member, field, value)
    member.full_clean(exclude=["user"])
    member.save()
    return JsonResponse(member.to_json())


@login_required
@require_http_methods(["POST"])
def set_role(request, member_id):
    if request.user.member.role != Member.ROLE_ADMIN:
        return HttpResponseForbidden()
    target = get_object_or_404(Member, pk=member_id)
    role = json.loads(request.body or b"{}").get("role")
    if role not in dict(Member.ROLES):
        return JsonResponse({"error": "unknown role"}, status=400)
    target.role = role
    target.save(update_fields=["role"])
    return JsonResponse(target.to_json())


@login_required
def member_detail(request, member_id):
    member = get_object_or_404(Member, pk=member_id)
    data = member.to_json()
    if member.user_id == request.user.pk or request.user.member.role in (Member.ROLE_MODERATOR, Member.ROLE_ADMIN):
        data["email"] = member.user.email
    return JsonResponse(data)


@login_required
@require_http_methods(["POST"])
def verify_member(request, member_id):
    if request.user.member.role not in (Member.ROLE_MODERATOR, Member.ROLE_ADMIN):
        return HttpResponseForbidden()
    target = get_object_or_404(Member, pk=member_id)
    target.is_verified = True
    target.save(update_fields=["is_verified"])
    return JsonResponse(target.to_json())
