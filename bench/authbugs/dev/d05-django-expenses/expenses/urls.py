from django.urls import path

from . import views

app_name = "expenses"

urlpatterns = [
    path("", views.my_expenses, name="mine"),
    path("submit/", views.submit_expense, name="submit"),
    path("<int:pk>/", views.expense_detail, name="detail"),
    path("<int:pk>/approve/", views.approve_expense, name="approve"),
    path("<int:pk>/reject/", views.reject_expense, name="reject"),
    path("<int:pk>/reimburse/", views.mark_reimbursed, name="reimburse"),
]
