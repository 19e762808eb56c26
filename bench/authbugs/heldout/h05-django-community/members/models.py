from django.conf import settings
from django.db import models


class Member(models.Model):
    ROLE_MEMBER = "member"
    ROLE_MODERATOR = "moderator"
    ROLE_ADMIN = "admin"
    ROLES = [(r, r.title()) for r in (ROLE_MEMBER, ROLE_MODERATOR, ROLE_ADMIN)]

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="member")
    display_name = models.CharField(max_length=60)
    bio = models.TextField(blank=True, default="")
    timezone = models.CharField(max_length=40, default="UTC")
    role = models.CharField(max_length=16, choices=ROLES, default=ROLE_MEMBER)
    is_verified = models.BooleanField(default=False)
    joined_at = models.DateTimeField(auto_now_add=True)

    def to_json(self):
        return {
            "id": self.pk,
            "display_name": self.display_name,
            "bio": self.bio,
            "timezone": self.timezone,
            "role": self.role,
            "is_verified": self.is_verified,
        }
