from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role
from portal.audit.catalogue import action_label


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["full_name", "preferred_language"]


class RolesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Roles"))
        kwargs.setdefault("choices", Role.choices)
        kwargs.setdefault(
            "error_messages",
            {"required": _("Choose at least one role."), "invalid_choice": _("Unknown role.")},
        )
        super().__init__(**kwargs)


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)
    roles = RolesField(
        help_text=_("Global admins can do everything, including managing other Global admins.")
    )


class RolesForm(forms.Form):
    roles = RolesField()


class ActivityFilterForm(forms.Form):
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    action = forms.ChoiceField(label=_("Action"), required=False)
    user = forms.TypedChoiceField(label=_("User"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, actions: list[str], actors: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        labelled = sorted(((a, action_label(a)) for a in actions), key=lambda choice: choice[1])
        self.fields["action"].choices = [("", _("All actions")), *labelled]
        self.fields["user"].choices = [("", _("All users")), *((str(pk), label) for pk, label in actors)]

    def clean(self):
        cleaned = super().clean()
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", _("The end date must be on or after the start date."))
        return cleaned
