from django.urls import path

from . import views

app_name = "members"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("profile/edit/", views.edit_profile, name="profile"),
    path("api/profile/", views.api_update_profile, name="api-profile"),
    path("api/members/<int:member_id>/", views.member_detail, name="detail"),
    path("api/members/<int:member_id>/role/", views.set_role, name="set-role"),
    path("api/members/<int:member_id>/verify/", views.verify_member, name="verify"),
]
