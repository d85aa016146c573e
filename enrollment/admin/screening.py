"""The screening list on the review site: entries are added and removed, each through its service (with
its audit row), and never edited; the screening check of every new application reads them."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from enrollment.models import ScreeningEntry, ScreeningKind
from enrollment.services.screening import (
    ENTRY_ALREADY_LISTED,
    screening_entry_add,
    screening_entry_remove,
    screening_value_normalise,
)
from enrollment.validation.email_domains import domain_display
from portal.errors import DomainError


class ScreeningEntryForm(forms.ModelForm):
    class Meta:
        model = ScreeningEntry
        fields = ["kind", "value", "note"]

    def clean(self):
        """The value as the list stores it; an entry already listed is said here, and the service's unique
        index still decides between two reviewers adding it at once."""
        cleaned = super().clean()
        kind, value = cleaned.get("kind"), cleaned.get("value")
        if not (kind and value):
            return cleaned
        try:
            value = screening_value_normalise(kind=kind, value=value)
        except ValidationError as error:
            self.add_error("value", error)
            return cleaned
        if ScreeningEntry.objects.filter(kind=kind, value__iexact=value).exists():
            self.add_error(
                "value",
                ValidationError(ENTRY_ALREADY_LISTED, code="entry_already_listed", params={"value": value}),
            )
            return cleaned
        cleaned["value"] = value
        return cleaned


@admin.register(ScreeningEntry)
class ScreeningEntryAdmin(admin.ModelAdmin):
    """Added through ``screening_entry_add``, removed through ``screening_entry_remove``; never edited."""

    form = ScreeningEntryForm
    list_display = ["entry_value", "kind", "note", "created_at"]
    list_filter = ["kind"]
    search_fields = ["value", "note"]
    ordering = ["kind", "value"]
    readonly_fields = ["created_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["kind", "value", "note"]
        return ["kind", "entry_value", "note", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["kind", "entry_value", "note", "created_at"]

    def has_change_permission(self, request, obj=None):
        return False  # remove the entry and add it again: the history then shows both

    @admin.display(description=_("value"), ordering="value")
    def entry_value(self, obj: ScreeningEntry) -> str:
        if obj.kind == ScreeningKind.EMAIL_DOMAIN:
            written = domain_display(obj.value)
            return obj.value if written == obj.value else f"{written} ({obj.value})"
        return obj.value

    def save_model(self, request, obj, form, change):
        try:
            entry = screening_entry_add(kind=obj.kind, value=obj.value, note=obj.note, by=request.user)
        except DomainError as error:
            if error.code != "entry_already_listed":
                raise
            # Another reviewer added it since the form was checked: it is listed, as asked.
            entry = ScreeningEntry.objects.get(kind=obj.kind, value__iexact=obj.value)
            self.message_user(request, error.message, messages.WARNING)
        obj.pk, obj.value, obj.created_at = entry.pk, entry.value, entry.created_at

    def delete_model(self, request, obj):
        try:
            screening_entry_remove(entry=obj, by=request.user)
        except DomainError as error:  # already removed by someone else: the outcome asked for
            self.message_user(request, error.message, messages.WARNING)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)
