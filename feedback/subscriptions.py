"""feedback's wiring, registered once at start-up (config's ready() imports this module)."""

from django.core import checks

from config import events
from customers.selectors import register_detail_part, register_timeline_source
from feedback import checks as feedback_checks
from feedback import selectors, services

checks.register(feedback_checks.survey_base_url)
checks.register(feedback_checks.survey_base_url_is_public, deploy=True)
events.subscribe("lead.won", services.open_onboarding_task)  # a won lead opens service onboarding
register_detail_part(selectors.attach_customer_feedback)
register_timeline_source(selectors.timeline_events)
