"""The provider's own directory listing: edit it, preview it as resellers see it, hide or show it.

The countries served are program staff's (they decide where a provider may take resellers): shown here,
never edited. Preview checks the submitted values with the same cleaning as Save and renders the card
from them on an unsaved copy of the listing; Save is ``listing_update``.
"""

import copy

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.scoping import OrganizationView
from portal.errors import DomainError, form_add_domain_error
from providers.models import HELP_KINDS, ProviderListing
from providers.selectors import listing_for
from providers.services.listings import (
    languages_clean,
    listing_update,
    listing_values_clean,
    listing_visibility_set,
)
from providers.views.directory import language_choices

#: Offered first, as plain checkboxes; every other language sits under "More languages".
COMMON_LANGUAGES = ("en", "ja")


class ListingForm(forms.Form):
    description = forms.CharField(
        label=gettext_lazy("Description"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy("What you offer resellers, in a few sentences (at most 2,000 characters)."),
    )
    website = forms.URLField(
        label=gettext_lazy("Website"),
        required=False,
        max_length=200,
        assume_scheme="https",
        help_text=gettext_lazy("For example https://www.example.com"),
    )
    contact_email = forms.EmailField(label=gettext_lazy("Contact email"), required=False, max_length=254)
    contact_phone = forms.CharField(
        label=gettext_lazy("Contact phone"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    help_kinds = forms.MultipleChoiceField(
        label=gettext_lazy("Kinds of help"),
        required=False,
        choices=HELP_KINDS,
        widget=forms.CheckboxSelectMultiple,
    )
    languages = forms.MultipleChoiceField(
        label=gettext_lazy("Languages"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": gettext_lazy("Choose languages from the list.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["languages"].choices = language_choices()

    @classmethod
    def initial_for(cls, listing: ProviderListing) -> dict:
        return {
            "description": listing.description,
            "website": listing.website,
            "contact_email": listing.contact_email,
            "contact_phone": listing.contact_phone,
            "help_kinds": [field for field, _label in HELP_KINDS if getattr(listing, field)],
            "languages": [row.language for row in listing.languages.all()],
        }

    def values(self) -> dict:
        """The listing's fields as the services take them."""
        data = self.cleaned_data
        chosen = set(data["help_kinds"])
        return {
            "description": data["description"],
            "website": data["website"],
            "contact_email": data["contact_email"],
            "contact_phone": data["contact_phone"],
            **{field: field in chosen for field, _label in HELP_KINDS},
        }


class VisibilityForm(forms.Form):
    visible = forms.TypedChoiceField(choices=[("1", "1"), ("0", "0")], coerce=lambda value: value == "1")


class _ListingMixin:
    def listing(self) -> ProviderListing:
        listing = listing_for(self.organization)
        if listing is None:
            raise Http404
        return listing


class ListingEditView(_ListingMixin, OrganizationView):
    def get(self, request):
        listing = self.listing()
        return self._render(listing, ListingForm(initial=ListingForm.initial_for(listing)))

    def post(self, request):
        listing = self.listing()
        form = ListingForm(request.POST)
        if request.POST.get("action") == "preview":
            preview = self._preview(listing, form)
            return self._render(listing, form, preview=preview, status=200 if preview else 400)
        if form.is_valid():
            try:
                listing_update(
                    listing=listing,
                    by=self.membership,
                    values=form.values(),
                    languages=form.cleaned_data["languages"],
                )
            except DomainError as error:
                form_add_domain_error(form, error)
            else:
                messages.success(request, _("Your listing was saved."))
                return redirect("providers:listing_edit", organization_public_id=self.organization.public_id)
        return self._render(listing, form, status=400)

    def _preview(self, listing: ProviderListing, form: ListingForm) -> ProviderListing | None:
        """An unsaved copy of the listing with the submitted values, checked as Save checks them."""
        if not form.is_valid():
            return None
        try:
            values = listing_values_clean(form.values())
            languages = languages_clean(form.cleaned_data["languages"])
        except DomainError as error:
            form_add_domain_error(form, error)
            return None
        preview = copy.copy(listing)
        for field, value in values.items():
            setattr(preview, field, value)
        preview.name = self.organization.legal_name
        names = dict(form.fields["languages"].choices)
        # the card shows these names instead of the saved language rows
        preview.language_names = [str(names[code]) for code in names if code in languages]
        return preview

    def _render(self, listing, form, *, preview=None, status=200):
        languages = list(form["languages"])
        context = self.get_context_data(
            listing=listing,
            form=form,
            preview=preview,
            countries=sorted((row.country.name for row in listing.countries.all()), key=str),
            common_languages=[box for box in languages if box.data["value"] in COMMON_LANGUAGES],
            other_languages=[box for box in languages if box.data["value"] not in COMMON_LANGUAGES],
            other_languages_chosen=sum(
                1 for box in languages if box.data["value"] not in COMMON_LANGUAGES and box.data["selected"]
            ),
        )
        return render(self.request, "providers/listing_edit.html", context, status=status)


class ListingVisibilityView(_ListingMixin, OrganizationView):
    """POST: hide the listing from the directory, or show it again; back to the listing page."""

    def post(self, request):
        listing = self.listing()
        form = VisibilityForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose whether to show or hide your listing."))
        else:
            visible = form.cleaned_data["visible"]
            try:
                listing_visibility_set(listing=listing, by=self.membership, visible=visible)
            except DomainError as error:
                messages.error(request, error.message)
            else:
                messages.success(
                    request,
                    _("Your listing is shown in the directory again.")
                    if visible
                    else _("Your listing is hidden: resellers no longer find it in the directory."),
                )
        return redirect("providers:listing_edit", organization_public_id=self.organization.public_id)
