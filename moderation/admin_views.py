"""The moderator's and supervisor's pages inside the admin: thin views over the services."""

import csv
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    Http404,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import selectors, services, tokens
from .credentials import CredentialError
from .durations import describe
from .forms import (
    DURATION_PRESETS,
    MUTE,
    MUTE_DURATIONS,
    ChangeForm,
    LiftForm,
    ModerateForm,
    MuteForm,
    add_service_errors,
)
from .models import ApiToken, Ban, ModerationLog, Room, VendorApp, VendorCall
from .templatetags.moderation import remaining, vendor_said
from .vendors import VendorInputError


def require(request, *perms):
    """403 unless the user holds every one of these moderation permissions."""
    if not request.user.has_perms([f"moderation.{p}" for p in perms]):
        raise PermissionDenied


def _context(model_admin, request, **extra):
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        **extra,
    }


# --- Kick and ban -----------------------------------------------------------------------------

MAX_PICKED = 5000


def moderate(model_admin, request):
    """One form for kick and ban, another for mute (?action=mute); a confirmation page; then the
    new records' page."""
    require(request, "add_ban")
    data = request.POST if request.method == "POST" else request.GET
    muting = data.get("action") == MUTE
    form_class, title = (MuteForm, _("Mute")) if muting else (ModerateForm, _("Kick or ban"))
    if request.method == "POST":
        form = form_class(request.POST)
        if "edit" not in request.POST and form.is_valid():
            try:
                action = _prepare(form.cleaned_data)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                if "confirm" in request.POST:
                    return _commit(request, action)
                return TemplateResponse(
                    request,
                    "admin/moderation/ban/confirm.html",
                    _context(
                        model_admin,
                        request,
                        form=form,
                        action=action,
                        summary=_summary(action),
                        title=_("Confirm"),
                    ),
                )
    else:
        initial = {"app": _last_used_app(request.user), **_initial(request, muting=muting)}
        form = form_class(initial=initial)
    return TemplateResponse(
        request,
        "admin/moderation/ban/moderate.html",
        _context(model_admin, request, form=form, title=title),
    )


def _last_used_app(user):
    """The app of the moderator's newest kick or ban, while it is enabled (else the first)."""
    newest = Ban.objects.filter(created_by=user, app__enabled=True).order_by("-created_at")
    return newest.values_list("app", flat=True).first()


def _initial(request, *, muting=False):
    initial = {}
    room_pk = request.GET.get("room")
    if room_pk and room_pk.isdigit():
        room = Room.objects.filter(pk=room_pk).select_related("app").first()
        if room:
            initial.update(app=room.app, room=room.room_id)
    elif (request.GET.get("app") or "").isdigit():
        # From a user's page: an app and a room id that may not be a recorded room yet.
        app = VendorApp.objects.filter(pk=request.GET["app"], enabled=True).first()
        if app:
            initial.update(app=app, room=(request.GET.get("room_id") or "")[:200])
    presets = dict(MUTE_DURATIONS if muting else DURATION_PRESETS)
    if request.GET.get("action") == "kick":
        initial["duration"] = "kick"
    elif request.GET.get("duration") in presets:
        initial["duration"] = request.GET["duration"]
    if muting and request.GET.get("media") in Ban.Media.values:
        initial["media"] = request.GET["media"]
    if request.GET.get("scope") in Ban.Scope.values:
        initial["scope"] = request.GET["scope"]
    # One `user` per person picked (the room page's checkboxes), or one list typed in a link.
    users = [u for u in request.GET.getlist("user")[:MAX_PICKED] if u.strip()]
    if users:
        initial["user_ids"] = "\n".join(users)
    return initial


def _prepare(data):
    if data.get("action") == MUTE:
        return services.prepare_mute(
            app=data["app"],
            room=_room(data["app"], data.get("room", "")),
            user_ids=data["user_ids"],
            media=data["media"],
            seconds=data["seconds"],
            reason=data["full_reason"],
        )
    app, scope = data["app"], data["scope"]
    room = None
    if scope != Ban.Scope.USER_EVERYWHERE:
        room = _room(app, data.get("room", ""))
    if data["kick"]:
        return services.prepare_kick(
            app=app, room=room, user_ids=data["user_ids"], reason=data["full_reason"]
        )
    return services.prepare_ban(
        app=app,
        scope=scope,
        room=room,
        user_ids=data["user_ids"] if scope != Ban.Scope.WHOLE_ROOM else (),
        seconds=data["seconds"],
        reason=data["full_reason"],
    )


def _room(app, room_id: str) -> Room:
    """The app's recorded room, or an unsaved one: it is recorded once the action is sent."""
    room_id = services.clean_room_id(room_id)
    return Room.objects.filter(app=app, room_id=room_id).first() or Room(app=app, room_id=room_id)


def _commit(request, action):
    room = action.room
    if room is not None and room.pk is None:
        room = services.room_for(app=action.app, room_id=room.room_id)
    if action.kind == Ban.Kind.KICK:
        bans = services.kick(
            app=action.app,
            room=room,
            user_ids=action.user_ids,
            reason=action.reason,
            actor=request.user,
        )
    elif action.kind == Ban.Kind.MUTE:
        bans = services.mute(
            app=action.app,
            room=room,
            user_ids=action.user_ids,
            media=action.media,
            seconds=action.seconds,
            reason=action.reason,
            actor=request.user,
        )
    else:
        bans = services.ban(
            app=action.app,
            scope=action.scope,
            room=room,
            user_ids=[u for u in action.user_ids if u],
            seconds=action.seconds,
            reason=action.reason,
            actor=request.user,
        )
    text = (
        ngettext(
            "Sent to %(vendor)s: %(count)d mute.", "Sent to %(vendor)s: %(count)d mutes.", len(bans)
        )
        if action.kind == Ban.Kind.MUTE
        else ngettext(
            "Sent to %(vendor)s: %(count)d kick or ban.",
            "Sent to %(vendor)s: %(count)d kicks or bans.",
            len(bans),
        )
    )
    # Neutral, not green: the vendor has not answered yet; the batch page says how it went.
    messages.info(request, text % {"count": len(bans), "vendor": action.app.get_vendor_display()})
    return HttpResponseRedirect(reverse("admin:moderation_ban_batch", args=[bans[0].batch]))


def _summary(action):
    """What the moderator is about to do, in the vendor's terms."""
    caps = services.capabilities(action.app)
    vendor = action.app.get_vendor_display()
    users = [u for u in action.user_ids if u]
    if action.kind == Ban.Kind.MUTE:
        return _mute_summary(action, caps, vendor, users)
    if action.kind == Ban.Kind.KICK:
        meaning = _("%(vendor)s removes them from the room now; they can rejoin at once.")
    elif caps.native_ban:
        meaning = _(
            "%(vendor)s bans them itself for the whole duration (re-applied by us every "
            "7 days for longer bans)."
        )
    elif action.scope == Ban.Scope.WHOLE_ROOM:
        meaning = _(
            "%(vendor)s can only close the room: it is closed now, and we keep refusing "
            "entry (re-kicks and the ban check) until the ban ends."
        )
    else:
        meaning = _(
            "%(vendor)s can only kick: they are kicked now, and we keep them out (re-kicks "
            "and the ban check) until the ban ends."
        )
    effective = describe(action.effective_seconds)
    clamped = action.seconds is not None and action.effective_seconds != action.seconds
    room_id = action.room.room_id if action.room else None
    return {
        **_warnings(action, users, room_id, kick_only=not caps.native_ban),
        "kind": action.kind,
        "users": users,
        "count": len(users),
        "app": action.app,
        "vendor": vendor,
        "room": action.room.room_id if action.room else None,
        "scope": action.scope,
        "requested": describe(action.seconds) if action.kind == Ban.Kind.BAN else None,
        "effective": effective if action.kind == Ban.Kind.BAN else None,
        "clamped": clamped,
        "meaning": meaning % {"vendor": vendor},
        "native_ban": caps.native_ban,
        "reason": action.reason,
    }


def _mute_summary(action, caps, vendor, users):
    media = Ban.Media(action.media).label
    window = caps.mute_seconds
    if caps.mute_by == "stream":
        meaning = _(
            "%(vendor)s stops each stream they publish in this room, and at once any stream "
            "they start while muted; the console resumes them when the mute ends. They stay in "
            "the room and hear the others."
        )
    elif window and action.seconds is not None and window[0] <= action.seconds <= window[1]:
        meaning = _(
            "%(vendor)s stops their %(media)s itself for the whole duration. They stay in the "
            "room and hear the others."
        )
    elif window:
        meaning = _(
            "%(vendor)s times mutes of 1 minute to 3 days only: it stops their %(media)s until "
            "told otherwise, and the console ends the mute on time. They stay in the room and "
            "hear the others."
        )
    else:
        meaning = _(
            "%(vendor)s stops their %(media)s until told otherwise; the console ends the mute "
            "on time. They stay in the room and hear the others."
        )
    return {
        **_warnings(action, users, action.room.room_id, kick_only=False),
        "kind": action.kind,
        "users": users,
        "count": len(users),
        "app": action.app,
        "vendor": vendor,
        "room": action.room.room_id,
        "scope": action.scope,
        "media": media,
        # ZEGO stops whole streams: an audio-only mute stops the video too.
        "whole_stream": caps.mute_by == "stream" and action.media != Ban.Media.BOTH,
        "effective": describe(action.seconds),
        "clamped": False,
        "meaning": meaning % {"vendor": vendor, "media": media},
        "reason": action.reason,
    }


def _warnings(action, users, room_id, *, kick_only):
    """What the moderator should see before sending: bans already there, strangers, rooms."""
    warnings = {"already_banned": [], "never_seen": [], "kick_rooms": []}
    if action.kind == Ban.Kind.BAN:
        existing = selectors.already_banned(
            action.app, scope=action.scope, room_id=room_id, user_ids=users
        )
        warnings["already_banned"] = [
            {"user_id": user, "ban": ban, "remaining": remaining(ban)}
            for user, ban in existing.items()
        ]
    if room_id and action.scope == Ban.Scope.USER_IN_ROOM:
        warnings["never_seen"] = selectors.never_seen_in(action.app, room_id, users)
    if action.scope == Ban.Scope.USER_EVERYWHERE and kick_only:
        warnings["kick_rooms"] = sorted(selectors.rooms_now(action.app, users).items())
    return warnings


# --- The bans of one action, live ---------------------------------------------------------------


def batch(model_admin, request, batch_id):
    require(request, "view_ban")
    bans = _batch_bans(batch_id)
    for ban in bans:
        ban.retrying = _retrying(ban)
    return TemplateResponse(
        request,
        "admin/moderation/ban/batch.html",
        _context(
            model_admin,
            request,
            bans=bans,
            batch_id=batch_id,
            counts=_counts(bans),
            title=_("Sent to the vendor"),
            can_retry=request.user.has_perm("moderation.add_ban"),
            can_lift=request.user.has_perm("moderation.lift_ban") and bool(_open(bans)),
        ),
    )


def batch_status(model_admin, request, batch_id):
    require(request, "view_ban")
    bans = _batch_bans(batch_id)
    return JsonResponse(
        {"bans": [{**_status_fields(b), "id": b.pk} for b in bans], "counts": _counts(bans)}
    )


def lift_batch(model_admin, request, batch_id):
    """Lifts every pending or active ban of one moderator action."""
    bans = _batch_bans(batch_id)
    back = reverse("admin:moderation_ban_batch", args=[batch_id])
    return lift_or_change(model_admin, request, bans, "lift", back=back)


def _counts(bans) -> dict:
    """How many of the batch are in force, done, failed and still being sent."""
    counts = {"pending": 0, "active": 0, "done": 0, "failed": 0, "ended": 0}
    for ban in bans:
        key = ban.status if ban.status in counts else "ended"  # lifted, expired
        counts[key] += 1
    return counts


def _open(bans):
    return [
        b
        for b in bans
        if b.kind != Ban.Kind.KICK and b.status in (Ban.Status.PENDING, Ban.Status.ACTIVE)
    ]


def _retrying(ban) -> str:
    """For a ban the vendor asked us to send again: how far it got, and the last answer."""
    if ban.status != Ban.Status.PENDING or not ban.attempts:
        return ""
    return _("Attempt %(made)d of %(max)d failed; trying again.") % {
        "made": ban.attempts,
        "max": settings.VENDOR_MAX_ATTEMPTS,
    }


def _batch_bans(batch_id):
    try:
        batch_uuid = uuid.UUID(str(batch_id))
    except ValueError:
        raise Http404 from None
    bans = list(Ban.objects.filter(batch=batch_uuid).select_related("app", "room").order_by("pk"))
    if not bans:
        raise Http404
    return bans


def _status_fields(ban):
    return {
        "status": ban.status,
        "status_label": ban.get_status_display(),
        "vendor_message": vendor_said(ban),
        "retrying": _retrying(ban),
        "remaining": remaining(ban),
        "final": ban.status != Ban.Status.PENDING,
    }


def retry(model_admin, request, ban_id):
    require(request, "add_ban")
    if request.method != "POST":
        raise PermissionDenied
    ban = get_object_or_404(Ban, pk=ban_id)
    try:
        services.retry(ban=ban, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Sent again."))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("admin:moderation_ban_change", args=[ban.pk])
    return HttpResponseRedirect(target)


# --- Lift and change, one ban or many -----------------------------------------------------------


def lift(model_admin, request, ban_id):
    return lift_or_change(model_admin, request, [get_object_or_404(Ban, pk=ban_id)], "lift")


def change_duration(model_admin, request, ban_id):
    return lift_or_change(model_admin, request, [get_object_or_404(Ban, pk=ban_id)], "change")


def lift_or_change(model_admin, request, bans, what, *, bulk=False, back=None):
    """Lifts or changes the open bans among `bans`; then to `back`, or where they are listed."""
    require(request, "lift_ban")
    form_class = LiftForm if what == "lift" else ChangeForm
    form = form_class(
        request.POST if request.method == "POST" and "apply" in request.POST else None
    )
    open_bans = _open(bans)
    mutes = bool(bans) and all(b.is_mute for b in bans)
    if form.is_bound and form.is_valid():
        done, errors = 0, []
        for ban in open_bans:
            try:
                if what == "lift":
                    services.lift(
                        ban=ban, reason=form.cleaned_data["full_reason"], actor=request.user
                    )
                else:
                    services.change(
                        ban=ban,
                        seconds=form.cleaned_data["seconds"],
                        reason=form.cleaned_data["full_reason"],
                        actor=request.user,
                    )
                done += 1
            except ValidationError as error:
                if len(open_bans) == 1:
                    add_service_errors(form, error)
                errors.append(f"#{ban.pk}: {' '.join(error.messages)}")
        if done or not (len(open_bans) == 1 and form.errors):
            if what == "lift" and mutes:
                text = ngettext("%(count)d mute lifted.", "%(count)d mutes lifted.", done)
            elif what == "lift":
                text = ngettext("%(count)d ban lifted.", "%(count)d bans lifted.", done)
            elif mutes:
                text = ngettext("%(count)d mute changed.", "%(count)d mutes changed.", done)
            else:
                text = ngettext("%(count)d ban changed.", "%(count)d bans changed.", done)
            messages.success(request, text % {"count": done})
            for error in errors:
                messages.error(request, error)
            if back:
                return HttpResponseRedirect(back)
            if len(bans) == 1:
                return HttpResponseRedirect(
                    reverse("admin:moderation_ban_change", args=[bans[0].pk])
                )
            return HttpResponseRedirect(reverse("admin:moderation_ban_changelist"))
    if mutes:
        title = _("Lift mute") if what == "lift" else _("Extend or shorten mute")
    else:
        title = _("Lift ban") if what == "lift" else _("Extend or shorten ban")
    return TemplateResponse(
        request,
        "admin/moderation/ban/lift_or_change.html",
        _context(
            model_admin,
            request,
            form=form,
            what=what,
            bans=bans,
            open_bans=open_bans,
            skipped=len(bans) - len(open_bans),
            mutes=mutes,
            bulk=bulk,
            title=title,
            action_name="lift_selected" if what == "lift" else "change_selected",
            cancel_url=back or reverse("admin:moderation_ban_changelist"),
        ),
    )


# --- Supervisors: timeline and export -----------------------------------------------------------


def timeline(model_admin, request):
    """Everything that happened to one user id, across rooms and apps."""
    require(request, "view_ban")
    user_id = (request.GET.get("user") or "").replace("\x00", "").strip()[:200]
    entries = []
    if user_id:
        entries = list(
            ModerationLog.objects.filter(ban__user_id=user_id)
            .select_related("ban", "ban__app", "ban__room", "actor")
            .order_by("-created_at", "-id")[:500]
        )
        calls = {}
        for call in (
            VendorCall.objects.filter(bans__user_id=user_id)
            .prefetch_related("bans")
            .order_by("created_at")[:2000]
        ):
            for ban in call.bans.all():
                calls.setdefault(ban.pk, []).append(call)
        for entry in entries:
            entry.vendor_calls = _calls_for(entry, calls.get(entry.ban_id, []))
    return TemplateResponse(
        request,
        "admin/moderation/ban/timeline.html",
        _context(
            model_admin,
            request,
            user_id=user_id,
            entries=entries,
            whereabouts=selectors.whereabouts(user_id) if user_id else [],
            in_force=selectors.bans_in_force_on(user_id) if user_id else [],
            apps=VendorApp.objects.filter(enabled=True).order_by("name") if user_id else [],
            can_moderate=request.user.has_perm("moderation.add_ban"),
            moderate_url=reverse("admin:moderation_ban_moderate"),
            title=_("User %(user)s") % {"user": user_id} if user_id else _("User timeline"),
        ),
    )


def _calls_for(entry, calls):
    """The vendor calls that belong to a log entry: the one it names, or none."""
    request_id = (entry.details or {}).get("request_id")
    if request_id:
        return [c for c in calls if c.vendor_request_id == request_id]
    if entry.event in ("failed", "retried"):
        attempt = (entry.details or {}).get("attempt")
        return [c for c in calls if attempt and c.attempt == attempt and not c.ok][-1:]
    return []


class _Echo:
    def write(self, value):
        return value


def export_csv(model_admin, request):
    """Exactly the rows the history page shows with the same filters, streamed."""
    require(request, "view_ban")
    try:
        changelist = model_admin.get_changelist_instance(request)
    except IncorrectLookupParameters:
        return HttpResponseBadRequest(
            _("These filters cannot be applied: open the history and choose them again."),
            content_type="text/plain; charset=utf-8",
        )
    queryset = (
        changelist.get_queryset(request)
        .select_related("app", "room", "created_by", "lifted_by")
        .order_by("-created_at", "-id")
    )
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff"  # so spreadsheet programs read UTF-8 (Chinese reasons)
        yield writer.writerow(selectors.EXPORT_COLUMNS)
        pages = selectors.newest_first_in_pages(
            queryset, first_page=EXPORT_FIRST_PAGE, page=EXPORT_PAGE
        )
        for ban in pages:
            yield writer.writerow(selectors.ban_as_row(ban))

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="bans-{stamp}.csv"'
    return response


EXPORT_FIRST_PAGE = 100
EXPORT_PAGE = 2000


# --- Staff: vendor apps ------------------------------------------------------------------------


def test_connection(model_admin, request, app_id):
    require(request, "change_vendorapp")
    if request.method != "POST":
        raise PermissionDenied
    app = get_object_or_404(VendorApp, pk=app_id)
    try:
        result = services.test_connection(app)
    except (VendorInputError, CredentialError) as exc:
        messages.error(
            request,
            _("Cannot call %(vendor)s: %(error)s")
            % {"vendor": app.get_vendor_display(), "error": getattr(exc, "message", str(exc))},
        )
    else:
        level = messages.success if result.ok else messages.error
        level(
            request,
            _("%(vendor)s answered: %(message)s")
            % {"vendor": app.get_vendor_display(), "message": result.message},
        )
    return HttpResponseRedirect(reverse("admin:moderation_vendorapp_change", args=[app.pk]))


def token_create(model_admin, request, app_id):
    """A ban-check token for the app's token server, shown this once."""
    require(request, "change_vendorapp")
    if request.method != "POST":
        raise PermissionDenied
    app = get_object_or_404(VendorApp, pk=app_id)
    try:
        token, plaintext = tokens.create_token(
            app=app, name=request.POST.get("name", ""), actor=request.user
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return HttpResponseRedirect(reverse("admin:moderation_vendorapp_change", args=[app.pk]))
    response = TemplateResponse(
        request,
        "admin/moderation/vendorapp/token_created.html",
        _context(
            model_admin,
            request,
            app=app,
            token=token,
            plaintext=plaintext,
            title=_("New ban-check token"),
        ),
    )
    return response  # the admin marks it never-cache (no-store): the token lingers nowhere


def token_revoke(model_admin, request, app_id, token_id):
    require(request, "change_vendorapp")
    if request.method != "POST":
        raise PermissionDenied
    token = get_object_or_404(ApiToken, pk=token_id, app_id=app_id)
    tokens.revoke_token(token=token, actor=request.user)
    messages.success(
        request, _("Token “%(name)s” revoked: it stops working at once.") % {"name": token.name}
    )
    return HttpResponseRedirect(reverse("admin:moderation_vendorapp_change", args=[app_id]))
