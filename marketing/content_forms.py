"""The content pages' forms: they check shape and hand the values to marketing.services, which own the rules (an
allowed link is an absolute http(s) URL; a refusal comes back on the field it names)."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from config.api.fields import LONG_TEXT
from marketing.models import ContentStage


class ContentForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    stage = forms.ChoiceField(label=_("Written for the stage"), choices=ContentStage.choices)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES, initial="en")
    tags = forms.CharField(label=_("Tags"), required=False, max_length=2000, help_text=_("Separate tags with commas."))
    urls = forms.CharField(
        label=_("Allowed links"),
        required=False,
        max_length=LONG_TEXT,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "One absolute http(s) URL per line. Links to these in a variant's body are tracked; clicks redirect to "
            "these only."
        ),
    )
    is_active = forms.BooleanField(label=_("Active (may be sent)"), required=False, initial=True)

    @classmethod
    def initial_of(cls, item) -> dict:
        return {
            "title": item.title,
            "stage": item.stage,
            "language": item.language,
            "tags": ", ".join(item.tags or []),
            "urls": "\n".join(item.urls or []),
            "is_active": item.is_active,
        }

    def clean_tags(self) -> list[str]:
        return [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]

    def clean_urls(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["urls"].splitlines() if line.strip()]


class VariantForm(forms.Form):
    title = forms.CharField(label=_("Title (the email's subject)"), max_length=200)
    cover_url = forms.CharField(
        label=_("Cover image URL"), required=False, max_length=200, help_text=_("An absolute http(s) URL, or nothing.")
    )
    body = forms.CharField(
        label=_("Body"),
        max_length=LONG_TEXT,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text=_("Plain text. Write the item's allowed links in full (https://…): each becomes a tracked link."),
    )

    @classmethod
    def initial_of(cls, variant) -> dict:
        return {"title": variant.title, "cover_url": variant.cover_url, "body": variant.body}
