import json

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_POST

from .models import Expense
from .permissions import can_view, is_finance


def _json(request):
    try:
        return json.loads(request.body or b"{}")
    except ValueError:
        return {}


@login_required
@require_GET
def my_expenses(request):
    rows = Expense.objects.filter(submitted_by=request.user)
    return JsonResponse({"expenses": [e.as_dict() for e in rows]})


@login_required
@require_POST
def submit_expense(request):
    data = _json(request)
    try:
        amount = int(data["amount_cents"])
    except (KeyError, TypeError, ValueError):
        return JsonResponse({"error": "amount_cents is required"}, status=400)
    expense = Expense.objects.create(
        submitted_by=request.user,
        description=str(data.get("description", ""))[:200],
        amount_cents=amount,
        currency=str(data.get("currency", "EUR"))[:3].upper(),
    )
    return JsonResponse(expense.as_dict(), status=201)


@login_required
@require_GET
def expense_detail(request, pk):
    expense = get_object_or_404(Expense, pk=pk)
    if not can_view(request.user, expense):
        return HttpResponseForbidden()
    return JsonResponse(expense.as_dict())


@login_required
@require_POST
def approve_expense(request, pk):
    if not is_finance(request.user):
        return HttpResponseForbidden()
    expense = get_object_or_404(Expense, pk=pk, status=Expense.SUBMITTED)
    expense.status = Expense.APPROVED
    expense.reviewed_by = request.user
    expense.save(update_fields=["status", "reviewed_by", "updated_at"])
    return JsonResponse(expense.as_dict())


@login_required
@require_POST
def reject_expense(request, pk):
    if not is_finance(request.user):
        return HttpResponseForbidden()
    expense = get_object_or_404(Expense, pk=pk, status=Expense.SUBMITTED)
    expense.status = Expense.REJECTED
    expense.reviewed_by = request.user
    expense.save(update_fields=["status", "reviewed_by", "updated_at"])
    return JsonResponse(expense.as_dict())


@login_required
@require_POST
def mark_reimbursed(request, pk):
    expense = get_object_or_404(Expense, pk=pk, status=Expense.APPROVED)
    expense.status = Expense.REIMBURSED
    expense.reviewed_by = request.user
    expense.save(update_fields=["status", "reviewed_by", "updated_at"])
    return JsonResponse(expense.as_dict())
