from config import roles
from config.notifications import unread_count


def relay(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "relay_department": roles.department_of(user),
        "relay_is_manager": roles.is_manager(user),
        "relay_unread_notifications": unread_count(user),
    }
