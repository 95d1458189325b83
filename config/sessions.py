"""Sessions end after a working day idle (SESSION_COOKIE_AGE), without a database write on every request.

Django's SESSION_SAVE_EVERY_REQUEST would move the expiry on with each request, but it makes every page a write:
three more queries per page, and on SQLite every page view would queue for the write lock behind imports and
workers. Here a signed-in session is saved again, with a new expiry, once RELAY_SESSION_REFRESH_SECONDS have
passed since its last save, so it ends between SESSION_COOKIE_AGE minus that and SESSION_COOKIE_AGE idle."""

import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY

STAMP = "relay_saved_at"


def stamp_login(sender, request, user, **kwargs):
    """user_logged_in (config/subscriptions.py): a new session starts counting at its login."""
    session = getattr(request, "session", None)
    if session is not None:
        session[STAMP] = int(time.time())


class SessionIdleExpiryMiddleware:
    """Inside SessionMiddleware, which saves a changed session and sends its cookie with the new expiry."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.get(SESSION_KEY) is None:
            return response  # nobody signed in (or just signed out): nothing to keep alive
        now = int(time.time())
        saved_at = session.get(STAMP)
        if saved_at is None or now - saved_at >= settings.RELAY_SESSION_REFRESH_SECONDS:
            session[STAMP] = now
        return response
