"""customer_languages: the customer's own preferred language wins over every guess."""

import pytest

from feedback.services import customer_languages
from tests.factories import CustomerFactory, NpsInvitationFactory

pytestmark = pytest.mark.django_db


def test_the_customers_preferred_language_wins(django_assert_num_queries):
    prefers_english = CustomerFactory(name="王芳", language="en")  # a Chinese name, but English chosen
    prefers_chinese = CustomerFactory(name="Emma Ng", language="zh-hans")
    NpsInvitationFactory(customer=prefers_chinese, language="en")  # an older invitation does not override
    guessed = CustomerFactory(name="李雷")
    invited = CustomerFactory(name="张伟")
    NpsInvitationFactory(customer=invited, language="en")
    plain = CustomerFactory(name="Tom")
    ids = [prefers_english.pk, prefers_chinese.pk, guessed.pk, invited.pk, plain.pk]
    with django_assert_num_queries(2):
        languages = customer_languages(ids)
    assert languages == {
        prefers_english.pk: "en",
        prefers_chinese.pk: "zh-hans",
        guessed.pk: "zh-hans",
        invited.pk: "en",
        plain.pk: "en",
    }
