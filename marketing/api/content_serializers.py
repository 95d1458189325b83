"""Content, variants and messages in the API (DESIGN.md "Payloads": Content): inputs check shape only
(marketing.services own the rules, such as an allowed link being an absolute http(s) URL); outputs render."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from config.api.fields import Text
from marketing.models import ContentItem, ContentStage, ContentVariant, Message
from marketing.services import MAX_TAG_LENGTH, MAX_TAGS, MAX_URLS
from marketing.tracking import MAX_URL_LENGTH


class TextList(serializers.ListField):
    """A list of strings whose refusals name the entry (`urls[2]`), as the services do."""

    def run_child_validation(self, data):
        values, errors = [], []
        for entry in data:
            try:
                values.append(self.child.run_validation(entry))
                errors.append([])
            except ValidationError as exc:
                errors.append(exc.detail)
        if any(errors):
            raise ValidationError(errors)
        return values


class ContentInput(serializers.Serializer):
    title = Text(max_length=200)
    stage = serializers.ChoiceField(choices=ContentStage.choices)
    language = serializers.ChoiceField(choices=settings.LANGUAGES, default="en")
    tags = TextList(child=Text(max_length=MAX_TAG_LENGTH), max_length=MAX_TAGS, required=False, default=list)
    urls = TextList(
        child=Text(max_length=MAX_URL_LENGTH),
        max_length=MAX_URLS,
        required=False,
        default=list,
        help_text=_("The links its messages may carry: absolute http(s) URLs. Clicks redirect to these only."),
    )
    is_active = serializers.BooleanField(required=False, default=True)


class ContentUpdateInput(serializers.Serializer):
    """PUT sends every field (config.api.fields.require_whole_object), PATCH the ones it changes."""

    title = Text(max_length=200, required=False)
    stage = serializers.ChoiceField(choices=ContentStage.choices, required=False)
    language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False)
    tags = TextList(child=Text(max_length=MAX_TAG_LENGTH), max_length=MAX_TAGS, required=False)
    urls = TextList(child=Text(max_length=MAX_URL_LENGTH), max_length=MAX_URLS, required=False)
    is_active = serializers.BooleanField(required=False)


class VariantSummary(serializers.ModelSerializer):
    class Meta:
        model = ContentVariant
        fields = ["id", "key", "title"]
        read_only_fields = fields


class ContentOutput(serializers.ModelSerializer):
    variants = VariantSummary(many=True, read_only=True)

    class Meta:
        model = ContentItem
        fields = [
            "id",
            "title",
            "stage",
            "language",
            "tags",
            "urls",
            "is_active",
            "variants",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class VariantInput(serializers.Serializer):
    title = Text(max_length=200)
    cover_url = Text(max_length=200, required=False, allow_blank=True, default="")
    body = Text()


class VariantUpdateInput(serializers.Serializer):
    title = Text(max_length=200, required=False)
    cover_url = Text(max_length=200, required=False, allow_blank=True)
    body = Text(required=False)


class VariantOutput(serializers.ModelSerializer):
    content = serializers.IntegerField(source="item_id", read_only=True)
    # A string, not a "uri": a variant without a cover answers "" (the model's URLField would promise a URI).
    cover_url = serializers.CharField(read_only=True)

    class Meta:
        model = ContentVariant
        fields = ["id", "content", "key", "title", "cover_url", "body", "created_at"]
        read_only_fields = fields


class MessageOutput(serializers.ModelSerializer):
    content = serializers.PrimaryKeyRelatedField(source="item", read_only=True)
    skip_reason = serializers.CharField(
        read_only=True, help_text=_("Why a skipped message was not sent: unsubscribed, no_address or cap.")
    )
    scheduled_for = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text=_("A queued message waits for the quiet hours to end: until then.")
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "customer",
            "journey",
            "content",
            "variant",
            "experiment",
            "channel",
            "status",
            "skip_reason",
            "scheduled_for",
            "sent_at",
            "opened_at",
            "clicked_at",
            "converted_at",
            "conversion_kind",
            "created_at",
        ]
        read_only_fields = fields
