import os

from django.contrib.auth.models import Group, User
from django.test import TestCase

from .models import Expense

PASSWORD = os.environ.get("EXPENSES_TEST_PASSWORD", "not-a-real-password")


class ApprovalTests(TestCase):
    def setUp(self):
        self.alice = User.objects.create_user("alice", password=PASSWORD)
        self.fin = User.objects.create_user("fin", password=PASSWORD)
        self.fin.groups.add(Group.objects.create(name="finance"))
        self.expense = Expense.objects.create(submitted_by=self.alice, description="taxi", amount_cents=2300)

    def test_member_cannot_approve(self):
        self.client.login(username="alice", password=PASSWORD)
        response = self.client.post(f"/expenses/{self.expense.pk}/approve/")
        self.assertEqual(response.status_code, 403)

    def test_finance_can_approve(self):
        self.client.login(username="fin", password=PASSWORD)
        response = self.client.post(f"/expenses/{self.expense.pk}/approve/")
        self.assertEqual(response.status_code, 200)
