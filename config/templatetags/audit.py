"""`{% history_link record %}`: the link to a record's history page, drawn only for those who may read it."""

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from config import audit

register = template.Library()


@register.simple_tag(takes_context=True)
def history_link(context, record):
    request = context.get("request")
    if record is None or request is None or not audit.can_read(request.user, type(record), record.pk):
        return ""
    return format_html(
        '<a class="button" href="{}" data-testid="history-link">{}</a>',
        audit.history_url(type(record), record.pk),
        _("History"),
    )
