import dataclasses
import functools

from allauth.account.forms import LoginForm as AllauthLoginForm
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.choices import BaseChoiceIterator
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role, roles_for_kind
from portal.audit.catalogue import action_choices


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


def _roles_offered(*, kind: str, can_assign_global_admin: bool) -> list[tuple[str, str]]:
    """The roles of this kind of organization; Global admin only to a member who may grant it (any other
    choice of it always fails)."""
    offered = roles_for_kind(kind)
    return [
        choice
        for choice in Role.choices
        if choice[0] in offered and (can_assign_global_admin or choice[0] != Role.GLOBAL_ADMIN)
    ]


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)
    roles = RolesField()

    def __init__(self, *args, kind: str, can_assign_global_admin: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = _roles_offered(
            kind=kind, can_assign_global_admin=can_assign_global_admin
        )
        if can_assign_global_admin:
            self.fields["roles"].help_text = _(
                "Global admins can do everything, including managing other Global admins."
            )


class RolesForm(forms.Form):
    """A member's roles. An actor who may not grant or remove Global admin is not offered it; a member who
    already is Global admin keeps that role whatever such an actor ticks."""

    roles = RolesField()

    def __init__(self, *args, kind: str, member_roles: list[str], can_assign_global_admin: bool, **kwargs):
        kwargs.setdefault("initial", {"roles": member_roles})
        super().__init__(*args, **kwargs)
        self.kept_roles = []
        field = self.fields["roles"]
        field.choices = _roles_offered(kind=kind, can_assign_global_admin=can_assign_global_admin)
        if not can_assign_global_admin and Role.GLOBAL_ADMIN in member_roles:
            self.kept_roles = [Role.GLOBAL_ADMIN]
            field.required = False
            field.help_text = _(
                "This member is a Global admin. Only a Global admin can grant or remove that role, "
                "so it stays as it is."
            )

    def clean_roles(self):
        chosen = list(self.cleaned_data["roles"])
        return [*self.kept_roles, *(role for role in chosen if role not in self.kept_roles)]


class _Pairs(BaseChoiceIterator):
    """Choices that are already (value, label) pairs of strings, Django's normal form: a plain list is
    normalised again on every assignment, field and widget (0.3 ms for the catalogue's 120 actions)."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self.pairs = pairs

    def __iter__(self):
        return iter(self.pairs)


class ActivityFilterForm(forms.Form):
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    action = forms.ChoiceField(label=_("Action"), required=False)
    # Typed, not chosen from a list: a list of every member would grow with the organization.
    user = forms.EmailField(label=_("User's email address"), required=False)

    def __init__(self, *args, actions: list[tuple[str, str]], **kwargs):
        """``actions``: the registered (code, label) pairs, from the audit catalogue."""
        super().__init__(*args, **kwargs)
        labelled = sorted(actions, key=lambda choice: choice[1])
        self.fields["action"].choices = _Pairs([("", str(_("All actions"))), *labelled])

    def clean(self):
        cleaned = super().clean()
        for name in ("date_from", "date_to"):
            if name in self.errors:
                # Not a date: a date input would show the value as empty, which hides the very mistake its
                # error message talks about. Show what was sent, as text.
                self.fields[name].widget.input_type = "text"
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", _("The end date must be on or after the start date."))
        return cleaned


@functools.lru_cache(maxsize=16)
def activity_action_choices(language: str | None) -> tuple[tuple[str, str], ...]:
    """The catalogue's actions with their labels in ``language``: registered once at start-up, so
    translated once per process and language, not once per request."""
    return tuple(action_choices())


@dataclasses.dataclass(frozen=True)
class ActivityFilterValues:
    """What an activity filter form without errors prints, in plain values: the value sent for each field
    (None: not sent) and whether the form was sent at all. Its choices are the catalogue's actions in the
    current language. The activity page's ``{% memo %}`` keys the form's HTML by these values (and the
    language): the select of some 120 actions is printed once per process and selection, not on every
    request. A form with errors prints them, and what was sent, itself (``of`` gives None)."""

    data: tuple[tuple[str, str | None], ...]
    bound: bool

    @classmethod
    def of(cls, form: "ActivityFilterForm") -> "ActivityFilterValues | None":
        if form.errors:
            return None
        # what each BoundField.data would read, without making the bound fields
        data = tuple(
            (name, field.widget.value_from_datadict(form.data, form.files, form.add_prefix(name)))
            for name, field in form.fields.items()
        )
        return cls(data=data, bound=form.is_bound)

    @classmethod
    def unbound(cls) -> "ActivityFilterValues":
        """What ``of`` gives for a form that was not sent (nothing sent for any field), without making
        the form."""
        return cls(data=tuple((name, None) for name in ActivityFilterForm.base_fields), bound=False)

    @property
    def form(self) -> "ActivityFilterForm":
        """A form that prints what the form these values came from printed."""
        data = dict(self.data) if self.bound else None
        return ActivityFilterForm(data, actions=activity_action_choices(get_language()))


class LoginForm(AllauthLoginForm):
    """allauth's sign-in form, with the address prefilled from ``?email=`` (the invitation page's Sign in
    link passes the invited address), like allauth's sign-up page already does."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        email = self.request.GET.get("email", "") if self.request is not None and not self.is_bound else ""
        if email:
            try:
                validate_email(email)
            except ValidationError:
                return
            self.fields["login"].initial = email
