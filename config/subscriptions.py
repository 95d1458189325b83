"""config's wiring, imported once by ConfigAppConfig.ready(): role permissions follow each migrate; webhook endpoint
changes end the "no endpoints" cache; a login starts its session's idle clock."""

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, post_migrate, post_save
from django.utils.translation import gettext_lazy as _

from config import bots, events, home, notifications, pickers, roles, sessions, todo, webhooks
from config.models import ChatBot, WebhookEndpoint

post_migrate.connect(roles.sync_role_permissions_signal)
events.forward_to(webhooks.publish)  # every domain event is offered to the webhook endpoints that want it
post_save.connect(webhooks.forget_endpoints, sender=WebhookEndpoint)
post_delete.connect(webhooks.forget_endpoints, sender=WebhookEndpoint)
events.subscribe("alert.raised", bots.forward_alert)  # staff alerts also go to Feishu / WeCom group bots
post_save.connect(bots.forget_bots, sender=ChatBot)
post_delete.connect(bots.forget_bots, sender=ChatBot)
user_logged_in.connect(sessions.stamp_login)  # idle expiry counts from the login
pickers.register("sales-owners", search=roles.pick_people(roles.SALES), label=roles.person_label)
pickers.register("staff", search=roles.pick_people(), label=roles.person_label)
home.register("tasks", order=10, template="tasks/_home_tasks.html", context=todo.home_panel)  # tasks come first
for _kind, _label in (
    ("tasks.assigned", _("Task for you")),
    ("tasks.due", _("Task due soon")),
    ("tasks.overdue", _("Task overdue")),
):
    notifications.register_kind(_kind, _label)
