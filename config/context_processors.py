from config import roles
from config.notifications import unread_count


def relay(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # The inbox and the bell's menu count the unread already (config.views._unread_groups): no second query.
    unread = getattr(request, "relay_unread_notifications", None)
    return {
        "relay_department": roles.department_of(user),
        "relay_is_manager": roles.is_manager(user),
        "relay_unread_notifications": unread_count(user) if unread is None else unread,
    }
