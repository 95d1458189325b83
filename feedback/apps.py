from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = _("Feedback")

    def ready(self):
        from django.core import checks

        from config import events
        from customers.selectors import register_detail_part, register_timeline_source
        from feedback import checks as feedback_checks
        from feedback import selectors, services

        checks.register(feedback_checks.survey_base_url)
        checks.register(feedback_checks.survey_base_url_is_public, deploy=True)
        events.subscribe("lead.won", services.open_onboarding_task)
        register_detail_part(selectors.attach_customer_feedback)
        register_timeline_source(selectors.timeline_events)
