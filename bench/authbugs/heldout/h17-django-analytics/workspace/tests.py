from django.test import TestCase
from django.utils import timezone

from .models import ApiKey, Team


class ApiKeyTests(TestCase):
    def test_revoked_key_is_unusable(self):
        key, raw = ApiKey.mint(Team.objects.create(name="t"), "ci")
        self.assertTrue(key.matches(raw))
        key.revoked_at = timezone.now()
        self.assertFalse(key.is_usable())

    def test_key_without_expiry_is_usable(self):
        key, _ = ApiKey.mint(Team.objects.create(name="t2"), "ci", expires_at=None)
        self.assertTrue(key.is_usable())
