from dashboard.roles import can_operate, role_of


def roles(request):
    user = getattr(request, "user", None)
    if user is None:
        return {}
    return {"can_operate": can_operate(user), "role": role_of(user)}
