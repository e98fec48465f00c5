from dashboard.roles import can_operate, role_of


def roles(request):
    user = getattr(request, "user", None)
    if user is None:
        return {}
    return {"can_operate": can_operate(user), "role": role_of(user)}


def capabilities(request):
    """For the navigation: which provider features any connection has (looked up once
    per page, only when the template asks)."""
    from django.utils.functional import SimpleLazyObject

    from dashboard.capabilities import present

    return {"capabilities": SimpleLazyObject(lambda: {c.value for c in present()})}
