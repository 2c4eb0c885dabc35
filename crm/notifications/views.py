"""The notification centre (every user), notification preferences, and reminder rules (administrators)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from crm.core.forms import EmptyForm
from crm.core.pagination import PageArgumentError, capped_count, page_args, paginate
from crm.core.permissions import Permission, has_permission, permission_required
from crm.extensions import db
from crm.main.views import _is_local_url
from crm.notifications import services
from crm.notifications.forms import PreferencesForm, ReminderRuleForm
from crm.notifications.models import EmailMode, Notification, OutboxMessage, OutboxStatus, ReminderRule
from crm.notifications.registry import WATCHERS, describe_recipients

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
rules_bp = Blueprint("reminder_rules", __name__, url_prefix="/admin/reminders")


@bp.app_context_processor
def navigation_counts() -> dict:
    """The unread count in the navigation bar, and (for administrators) the outbox failures to look at.

    Functions, so a page pays for the queries only where the navigation calls them (once per page).
    """

    def unread() -> int:
        if not getattr(current_user, "is_authenticated", False):
            return 0
        return services.unread_badge_count(current_user)

    def outbox_failures() -> int:
        if not has_permission(current_user, Permission.OPERATIONS):
            return 0
        failed = select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.FAILED)
        return db.session.scalar(capped_count(failed, services.BADGE_LIMIT)) or 0

    def preferences_form() -> PreferencesForm:
        form = PreferencesForm(prefix="notify")
        form.email_mode.data = services.email_mode(current_user).value
        return form

    return {
        "unread_notifications": unread,
        "badge_limit": services.BADGE_LIMIT,
        "outbox_failures": outbox_failures,
        "notification_preferences_form": preferences_form,
    }


# --- the notification centre --------------------------------------------------------------------------------


@bp.get("/")
@permission_required()
def index():
    unread_only = request.args.get("show") != "all"
    try:
        page, per_page = page_args()
    except PageArgumentError:
        abort(400)
    result = paginate(
        services.user_notifications(current_user, unread_only=unread_only), page, per_page, id_column=Notification.id
    )
    return render_template(
        "notifications/index.html",
        page=result,
        unread_only=unread_only,
        # The unread tab's list has just counted them.
        unread_total=result.total if unread_only else services.unread_count(current_user),
    )


def _own_notification_or_404(notification_id: int) -> Notification:
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != current_user.id:
        abort(404)
    return notification


@bp.get("/<int:notification_id>")
@permission_required()
def open_notification(notification_id: int):
    """Follow a notification's link, marking it read (the target page checks its own access)."""
    notification = _own_notification_or_404(notification_id)
    services.mark_read(notification)
    db.session.commit()
    target = notification.url if notification.url and _is_local_url(notification.url) else url_for(".index")
    return redirect(target)


@bp.post("/<int:notification_id>/read")
@permission_required()
def mark_read(notification_id: int):
    notification = _own_notification_or_404(notification_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    services.mark_read(notification)
    db.session.commit()
    return redirect(_back())


@bp.post("/read-all")
@permission_required()
def mark_all_read():
    if not EmptyForm().validate_on_submit():
        abort(400)
    count = services.mark_all_read(current_user)
    db.session.commit()
    flash(_("Notifications marked as read: %(n)s", n=count), "success")
    return redirect(_back())


@bp.post("/preferences")
@permission_required()
def update_preferences():
    form = PreferencesForm(prefix="notify")
    if form.validate_on_submit():
        services.set_email_mode(current_user, EmailMode(form.email_mode.data))
        db.session.commit()
        flash(_("Your notification preferences have been saved."), "success")
    else:
        flash(_("Choose how you want to receive reminder emails."), "danger")
    return redirect(url_for("auth.profile"))


def _back() -> str:
    target = request.form.get("next") or request.referrer
    return target if target and _is_local_url(target) else url_for(".index")


# --- reminder rules -----------------------------------------------------------------------------------------


@rules_bp.get("/")
@permission_required(Permission.OPERATIONS)
def list_rules():
    from crm.operations.queries import last_run

    rules = db.session.scalars(
        select(ReminderRule).order_by(ReminderRule.watch, ReminderRule.offset_days, ReminderRule.id)
    ).all()
    sweep = last_run("reminders.sweep")
    results = ((sweep.counts or {}).get("rules") or {}) if sweep else {}
    return render_template(
        "notifications/rules.html",
        rules=rules,
        watchers=WATCHERS,
        results=results,
        sweep=sweep,
        describe_recipients=describe_recipients,
    )


@rules_bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.OPERATIONS)
def create_rule():
    spec = WATCHERS.get(request.args.get("watch", ""))
    if spec is None:
        return render_template("notifications/rule_new.html", watchers=WATCHERS.values())
    form = ReminderRuleForm.for_spec(spec=spec)
    if request.method == "GET":
        form.fill_recipients({})
    if form.validate_on_submit():
        rule = services.create_rule(spec.code, **_rule_values(form))
        db.session.commit()
        flash(_("Reminder rule “%(name)s” created.", name=rule.display_name), "success")
        return redirect(url_for(".list_rules"))
    return render_template("notifications/rule_form.html", form=form, spec=spec, rule=None)


@rules_bp.route("/<int:rule_id>", methods=["GET", "POST"])
@permission_required(Permission.OPERATIONS)
def edit_rule(rule_id: int):
    rule = db.session.get(ReminderRule, rule_id)
    if rule is None:
        abort(404)
    spec = WATCHERS.get(rule.watch)
    if spec is None:
        abort(404)
    form = ReminderRuleForm.for_spec(spec=spec, obj=rule)
    if request.method == "GET":
        form.fill_recipients(rule.recipients or {})
    if form.validate_on_submit():
        for name, value in _rule_values(form).items():
            setattr(rule, name, value)
        db.session.commit()
        flash(_("Reminder rule “%(name)s” saved.", name=rule.display_name), "success")
        return redirect(url_for(".list_rules"))
    return render_template("notifications/rule_form.html", form=form, spec=spec, rule=rule)


def _rule_values(form: ReminderRuleForm) -> dict:
    return {
        "name_zh": form.name_zh.data.strip(),
        "name_en": form.name_en.data.strip(),
        "is_active": form.is_active.data,
        "offset_days": form.offset_days.data,
        "recipients": form.recipients,
        "subject_zh": form.subject_zh.data.strip(),
        "subject_en": form.subject_en.data.strip(),
        "body_zh": form.body_zh.data.strip(),
        "body_en": form.body_en.data.strip(),
    }
