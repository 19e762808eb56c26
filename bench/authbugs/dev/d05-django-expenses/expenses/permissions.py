FINANCE_GROUP = "finance"


def is_finance(user):
    return user.is_authenticated and user.groups.filter(name=FINANCE_GROUP).exists()


def can_view(user, expense):
    return expense.submitted_by_id == user.pk or is_finance(user)
