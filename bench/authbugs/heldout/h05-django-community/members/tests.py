import os

from django.contrib.auth import get_user_model
from django.test import TestCase

from .models import Member


class RoleTests(TestCase):
    def setUp(self):
        pw = os.environ.get("COMMUNITY_TEST_PASSWORD", "test-password-123")
        self.user = get_user_model().objects.create_user("kim", "kim@example.org", pw)
        Member.objects.create(user=self.user, display_name="Kim")
        self.client.login(username="kim", password=pw)

    def test_member_cannot_set_roles(self):
        other = Member.objects.create(user=get_user_model().objects.create_user("lee"), display_name="Lee")
        response = self.client.post(f"/api/members/{other.pk}/role/", '{"role": "admin"}', content_type="application/json")
        self.assertEqual(response.status_code, 403)
