"""The team page: members and their roles, invitations, the team's API keys,
the audit log, and the page an invitation link opens.

Everyone in the team sees the members; owners and admins also invite,
change roles, remove members and revoke any of the team's keys
(accounts/membership.py holds the rules and does the work). A member posting
one of those gets 403; anything of another team is a 404, exactly like
something that does not exist. An htmx request gets back the page's body
with a notice; a plain form post is redirected to the page with a message.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import membership
from accounts.membership import InvitationUnusable, MembershipError
from accounts.models import ApiKey, AuditEntry, Invitation, Profile
from playground.contracts.wire import request_base_url
from playground.keyset import paginate
from playground.pages.account import keys_context

AUDIT_PER_PAGE = 50
ROLE_ORDER = {role: n for n, (role, _) in enumerate(Profile.ROLES)}


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="E-mail address", widget=forms.EmailInput(attrs={"placeholder": "name@example.com"})
    )
    role = forms.ChoiceField(label="Role", choices=Profile.ROLES, initial=Profile.MEMBER)

    def __init__(self, *args, manager: Profile, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # An admin cannot invite an owner: the choice is not offered.
        self.fields["role"].choices = roles_for(manager)


class SignUpForm(UserCreationForm):
    """A username and a password, checked by Django's password validators."""


def roles_for(manager: Profile) -> list[tuple[str, str]]:
    return [(role, label) for role, label in Profile.ROLES if manager.may_give(role)]


def my_profile(request: HttpRequest) -> Profile:
    return Profile.objects.select_related("team").get(user=request.user)


def manager_or_403(request: HttpRequest) -> Profile:
    profile = my_profile(request)
    if not profile.can_manage():
        raise PermissionDenied("Only the team's owners and admins may do this.")
    return profile


def team_context(request: HttpRequest, **extra: Any) -> dict:
    me = my_profile(request)
    members = sorted(
        Profile.objects.filter(team=me.team).select_related("user"),
        key=lambda member: (ROLE_ORDER[member.role], member.user.get_username().casefold()),
    )
    for member in members:
        member.is_me = member.pk == me.pk
        member.changeable = me.may_change(member) and not member.is_me
        member.role_choices = roles_for(me) if member.changeable else []
    context: dict[str, Any] = {"me": me, "team": me.team, "members": members, **extra}
    if me.can_manage():
        context.setdefault("invite_form", InviteForm(manager=me))
        context["invitations"] = list(
            Invitation.objects.filter(
                team=me.team,
                accepted_at__isnull=True,
                revoked_at__isnull=True,
                expires_at__gt=timezone.now(),
            ).select_related("created_by")
        )
        for invitation in context["invitations"]:
            invitation.revocable = me.may_give(invitation.role)
        context["team_keys"] = list(
            ApiKey.objects.filter(user__profile__team=me.team, revoked_at__isnull=True)
            .select_related("user")
            .order_by("user__username", "-created_at")
        )
    else:
        # A member's own keys, as on the account page (its partial, its views).
        context |= keys_context(request)
    return context


def body(request: HttpRequest, notice: str = "", *, error: bool = False, **extra) -> HttpResponse:
    """The answer to a change: the page's body with a notice (htmx), else the
    page again with the notice as a message."""
    if request.htmx:
        context = team_context(request, notice=notice, notice_error=error, **extra)
        return render(request, "pages/team.html#team-body", context)
    if notice:
        (messages.error if error else messages.success)(request, notice)
    return redirect("team")


@login_required
@require_GET
def team(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/team.html", team_context(request))


@login_required
@require_POST
def invite(request: HttpRequest) -> HttpResponse:
    manager = manager_or_403(request)
    form = InviteForm(request.POST, manager=manager)
    if not form.is_valid():
        return _invite_page(request, invite_form=form)
    try:
        new = membership.invite(
            request.user,
            form.cleaned_data["email"],
            form.cleaned_data["role"],
            base_url=settings.PUBLIC_BASE_URL or request_base_url(request),
        )
    except MembershipError as exc:
        form.add_error("email", str(exc))
        return _invite_page(request, invite_form=form)
    # The link exists only in this response: its token is never stored or shown again.
    return _invite_page(request, new_invitation=new)


def _invite_page(request: HttpRequest, **extra) -> HttpResponse:
    if request.htmx:
        return render(request, "pages/team.html#team-body", team_context(request, **extra))
    return render(request, "pages/team.html", team_context(request, **extra))


@login_required
@require_POST
def revoke_invitation(request: HttpRequest, pk: int) -> HttpResponse:
    manager = manager_or_403(request)
    invitation = get_object_or_404(Invitation, pk=pk, team=manager.team)
    try:
        membership.revoke_invitation(request.user, invitation)
    except MembershipError as exc:
        return body(request, str(exc), error=True)
    return body(request, f"The invitation to {invitation.email} is revoked: its link is dead.")


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Profile.ROLES)


@login_required
@require_POST
def change_role(request: HttpRequest, pk: int) -> HttpResponse:
    manager = manager_or_403(request)
    member = get_object_or_404(Profile.objects.select_related("user"), pk=pk, team=manager.team)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return body(request, "Choose owner, admin or member.", error=True)
    role = form.cleaned_data["role"]
    try:
        membership.change_role(request.user, member, role)
    except MembershipError as exc:
        return body(request, str(exc), error=True)
    name = member.user.get_username()
    return body(request, f"{name} is {dict(Profile.ROLES)[role].lower()} now.")


@login_required
@require_POST
def remove_member(request: HttpRequest, pk: int) -> HttpResponse:
    manager = manager_or_403(request)
    member = get_object_or_404(Profile.objects.select_related("user"), pk=pk, team=manager.team)
    try:
        membership.remove_member(request.user, member)
    except MembershipError as exc:
        return body(request, str(exc), error=True)
    return body(request, f"{member.user.get_username()} is no longer in the team.")


@login_required
@require_POST
def revoke_key(request: HttpRequest, prefix: str) -> HttpResponse:
    manager = manager_or_403(request)
    key = get_object_or_404(
        ApiKey.objects.select_related("user"), prefix=prefix, user__profile__team=manager.team
    )
    described = f"Key {key.prefix}… of {key.user.get_username()}"
    if not membership.revoke_key(request.user, key):
        return body(request, f"{described} was revoked already.", error=True)
    return body(request, f"{described} is revoked: clients using it stop working at once.")


@login_required
@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    manager = manager_or_403(request)
    entries = paginate(
        AuditEntry.objects.filter(team=manager.team),
        size=AUDIT_PER_PAGE,
        older=request.GET.get("after"),
        newer=request.GET.get("before"),
    )
    for entry in entries.rows:
        entry.change = change_text(entry.before, entry.after)
    context = {"team": manager.team, "entries": entries}
    if request.htmx and request.htmx.target == "audit-entries":
        return render(request, "pages/team_audit.html#audit-entries", context)
    return render(request, "pages/team_audit.html", context)


def change_text(before: Any, after: Any) -> str:
    """What an entry changed, as a line a person reads: "role: member → admin"."""
    if isinstance(before, dict) and isinstance(after, dict):
        return ", ".join(
            f"{name}: {_word(before.get(name))} → {_word(after.get(name))}"
            for name in dict.fromkeys([*before, *after])
            if before.get(name) != after.get(name)
        )
    if isinstance(after, dict):
        return ", ".join(f"{name}: {_word(value)}" for name, value in after.items())
    if isinstance(before, dict):
        return "was " + ", ".join(f"{name}: {_word(value)}" for name, value in before.items())
    return " → ".join(_word(value) for value in (before, after) if value is not None)


def _word(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# -- the invitation link -----------------------------------------------------------


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, token: str) -> HttpResponse:
    """Sign up into the invitation's team, or (signed in) move one's account into it."""
    try:
        invitation = membership.find_invitation(token)
    except InvitationUnusable as exc:
        return unusable(request, exc)
    context: dict[str, Any] = {"invitation": invitation, "token": token}
    if request.user.is_authenticated:
        context["current_team"] = my_profile(request).team
        if request.method == "POST":
            try:
                membership.join_as(request.user, token)
            except InvitationUnusable as exc:
                return unusable(request, exc)
            except MembershipError as exc:
                context["error"] = str(exc)
            else:
                return _welcome(request, invitation)
        return render(request, "pages/join.html", context)
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            user = membership.join_as_new_user(
                token, form.cleaned_data["username"], form.cleaned_data["password1"]
            )
        except InvitationUnusable as exc:
            return unusable(request, exc)
        except MembershipError as exc:
            form.add_error(None, str(exc))
        else:
            login(request, user)
            return _welcome(request, invitation)
    return render(request, "pages/join.html", context | {"form": form})


def _welcome(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    role = dict(Profile.ROLES)[invitation.role].lower()
    messages.success(request, f"Welcome to {invitation.team.name}: you joined as {role}.")
    return redirect("team")


def unusable(request: HttpRequest, exc: InvitationUnusable) -> HttpResponse:
    """A clear page for a link that cannot be used: 404 unknown, 410 used up."""
    status = 404 if exc.state == membership.UNKNOWN else 410
    context = {"unusable": exc.state, "invitation": exc.invitation}
    return render(request, "pages/join.html", context, status=status)
