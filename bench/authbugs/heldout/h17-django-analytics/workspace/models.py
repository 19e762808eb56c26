import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def _digest(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


class Team(models.Model):
    name = models.CharField(max_length=80)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams")


class ApiKey(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_keys")
    label = models.CharField(max_length=60)
    prefix = models.CharField(max_length=8, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    @classmethod
    def mint(cls, team, label, expires_at=None):
        raw = secrets.token_urlsafe(32)
        key = cls.objects.create(team=team, label=label, prefix=raw[:8], digest=_digest(raw), expires_at=expires_at)
        return key, raw

    def matches(self, raw):
        return secrets.compare_digest(self.digest, _digest(raw))

    def is_usable(self):
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at < timezone.now()


class Invitation(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    email = models.EmailField()
    token_digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    def is_valid(self):
        return self.accepted_at is None and timezone.now() < self.expires_at
