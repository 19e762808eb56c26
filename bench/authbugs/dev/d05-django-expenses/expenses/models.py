from django.conf import settings
from django.db import models


class Expense(models.Model):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    REIMBURSED = "reimbursed"
    STATUSES = [(s, s.title()) for s in (SUBMITTED, APPROVED, REJECTED, REIMBURSED)]

    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="expenses")
    description = models.CharField(max_length=200)
    amount_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="EUR")
    status = models.CharField(max_length=16, choices=STATUSES, default=SUBMITTED)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def as_dict(self):
        return {
            "id": self.pk,
            "description": self.description,
            "amount_cents": self.amount_cents,
            "currency": self.currency,
            "status": self.status,
            "submitted_by": self.submitted_by_id,
        }
