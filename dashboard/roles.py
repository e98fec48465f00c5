"""Roles: viewer (reads), operator (presses buttons), admin (Django admin: connections
and tokens). Operators are the members of the "operator" group, which holds the
``dashboard.operate`` permission; superusers hold every permission."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

OPERATE = "dashboard.operate"
VIEWER_GROUP = "viewer"
OPERATOR_GROUP = "operator"


def can_operate(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.has_perm(OPERATE))


def role_of(user: AbstractBaseUser | AnonymousUser) -> str:
    if not user.is_authenticated:
        return "anonymous"
    if user.is_superuser or user.is_staff:
        return "admin"
    return "operator" if can_operate(user) else "viewer"
