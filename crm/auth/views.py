"""Logging in and out, the user's profile and API tokens, and user administration."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import Select, bindparam, func, or_, select

from crm.auth import services
from crm.auth.forms import ChangePasswordForm, LoginForm, ProfileForm, TokenForm, UserForm
from crm.auth.models import ApiToken, User
from crm.core.audit import AuditAction, record_event
from crm.core.forms import EmptyForm
from crm.core.pagination import PageArgumentError, page_args, paginate
from crm.core.permissions import LOGIN_LIMIT, Permission, Role, permission_required, public
from crm.extensions import db, login_manager
from crm.main.views import _is_local_url, resume_url
from crm.reference.models import Area, CustomsOffice

bp = Blueprint("auth", __name__)
admin_bp = Blueprint("users_admin", __name__, url_prefix="/admin/users")

SESSION_SEEN_KEY = "_seen"


def init_login(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        if not user_id.isdigit():
            return None
        if request.method in ("GET", "HEAD") and request.blueprint != "api":
            # A page: its navigation shows the unread count, read here in the same statement as the user.
            from crm.notifications.services import keep_unread_count

            row = db.session.execute(_user_with_unread_count(), {"user_id": int(user_id)}).first()
            user = row[0] if row is not None else None
            if user is not None and user.is_active:
                keep_unread_count(user.id, row[1])
        else:
            user = db.session.get(User, int(user_id))
        return user if user is not None and user.is_active else None

    @app.before_request
    def expire_idle_session():
        """Log out a browser session that has been idle longer than PERMANENT_SESSION_LIFETIME."""
        if request.blueprint == "api" or request.endpoint == "static":
            return None
        if not current_user.is_authenticated:
            return None
        now = datetime.now(UTC).timestamp()
        last_seen = session.get(SESSION_SEEN_KEY)
        idle_limit = current_app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
        if last_seen is not None and now - last_seen > idle_limit:
            logout_user()
            session.pop(SESSION_SEEN_KEY, None)
            flash(_("Your session expired after a period of inactivity. Please log in again."), "warning")
            return redirect(url_for("auth.login", next=resume_url()))
        # Write the timestamp at most once a minute to avoid a new cookie on every request.
        if last_seen is None or now - last_seen > 60:
            session[SESSION_SEEN_KEY] = now
        return None


@cache
def _user_with_unread_count() -> Select:
    """A user (by ``user_id``) and their unread notifications, built once."""
    from crm.notifications.services import unread_count_column

    user_id = bindparam("user_id")
    return select(User, unread_count_column(user_id)).where(User.id == user_id)


@bp.route("/login", methods=["GET", "POST"])
@public(limit=LOGIN_LIMIT, limit_methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        result = services.authenticate(form.username.data, form.password.data, ip=request.remote_addr)
        if result.ok:
            session.clear()
            session.permanent = True
            login_user(result.user)
            session[SESSION_SEEN_KEY] = datetime.now(UTC).timestamp()
            if result.user.language:
                session["language"] = result.user.language
            db.session.commit()
            target = request.args.get("next")
            return redirect(target if target and _is_local_url(target) else url_for("main.home"))
        db.session.commit()  # keep the failed attempt and any lock
        if result.status == "locked":
            form.form_errors.append(
                _(
                    "This account is locked for %(minutes)d minutes after repeated failed logins.",
                    minutes=current_app.config["LOGIN_LOCK_MINUTES"],
                )
            )
        elif result.status == "inactive":
            form.form_errors.append(_("This account has been deactivated."))
        else:
            form.form_errors.append(_("Wrong username or password."))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@permission_required()
def logout():
    record_event(AuditAction.LOGOUT, current_user.username, record=current_user)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/profile", methods=["GET", "POST"])
@permission_required()
def profile():
    form = ProfileForm(obj=current_user, prefix="profile")
    if request.method == "GET":
        form.language.data = current_user.language or current_app.config["CRM_DEFAULT_LANGUAGE"]
    if form.validate_on_submit():
        current_user.display_name = form.display_name.data.strip()
        current_user.email = form.email.data or None
        current_user.mobile = form.mobile.data or None
        current_user.language = form.language.data
        session["language"] = form.language.data
        db.session.commit()
        flash(_("Your profile has been saved."), "success")
        return redirect(url_for(".profile"))
    return _render_profile(profile_form=form)


@bp.route("/profile/password", methods=["POST"])
@permission_required()
def change_password():
    form = ChangePasswordForm(user=current_user, prefix="password")
    if form.validate_on_submit():
        current_user.set_password(form.new_password.data)
        db.session.commit()
        flash(_("Your password has been changed."), "success")
        return redirect(url_for(".profile"))
    return _render_profile(password_form=form), 422


@bp.route("/profile/tokens", methods=["POST"])
@permission_required()
def create_token():
    form = TokenForm(prefix="token")
    if form.validate_on_submit():
        _token, plain = services.create_token(current_user, form.name.data)
        db.session.commit()
        return _render_profile(new_token=plain)
    return _render_profile(token_form=form), 422


@bp.post("/profile/tokens/<int:token_id>/revoke")
@permission_required()
def revoke_token(token_id: int):
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    if EmptyForm().validate_on_submit():
        services.revoke_token(token)
        db.session.commit()
        flash(_("The token has been revoked."), "success")
    return redirect(url_for(".profile"))


def _render_profile(profile_form=None, password_form=None, token_form=None, new_token: str | None = None):
    if profile_form is None:
        profile_form = ProfileForm(obj=current_user, prefix="profile")
        profile_form.language.data = current_user.language or current_app.config["CRM_DEFAULT_LANGUAGE"]
    tokens = db.session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == current_user.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ).all()
    return render_template(
        "auth/profile.html",
        profile_form=profile_form,
        password_form=password_form or ChangePasswordForm(user=current_user, prefix="password"),
        token_form=token_form or TokenForm(prefix="token", formdata=None),
        tokens=tokens,
        new_token=new_token,
        revoke_form=EmptyForm(),
    )


# --- user administration -------------------------------------------------------------------------------


@admin_bp.get("/")
@permission_required(Permission.MANAGE_USERS)
def list_users():
    try:
        page, per_page = page_args()
    except PageArgumentError:
        abort(400)
    stmt = select(User).order_by(User.is_active.desc(), User.username)
    q = request.args.get("q", "").strip()
    if q:
        pattern = f"%{q.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(User.username).like(pattern),
                func.lower(User.display_name).like(pattern),
                func.lower(func.coalesce(User.email, "")).like(pattern),
            )
        )
    role = request.args.get("role")
    if role in Role._value2member_map_:
        stmt = stmt.where(User.role == Role(role))
    return render_template(
        "auth/users_list.html", page=paginate(stmt, page, per_page), q=q, role=role, roles=Role.choices()
    )


@admin_bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_USERS)
def create_user():
    form = UserForm()
    if request.method == "GET":
        form.manager_id.data = 0
    if form.validate_on_submit():
        user = services.create_user(
            form.username.data,
            role=form.role.data,
            password=form.password.data,
            display_name=form.display_name.data,
            email=form.email.data,
            mobile=form.mobile.data,
            language=form.language.data,
        )
        _apply_user_form(user, form)
        db.session.commit()
        flash(_("User %(name)s has been created.", name=user.username), "success")
        return redirect(url_for(".list_users"))
    return render_template("auth/user_form.html", form=form, user=None)


@admin_bp.route("/<int:user_id>", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_USERS)
def edit_user(user_id: int):
    user = db.get_or_404(User, user_id)
    form = UserForm(obj=user, user=user)
    if request.method == "GET":
        form.areas.data = [a.id for a in user.areas]
        form.offices.data = [o.id for o in user.offices]
        form.manager_id.data = user.manager_id or 0
        form.role.data = str(user.role)
        form.language.data = user.language or current_app.config["CRM_DEFAULT_LANGUAGE"]
    if form.validate_on_submit():
        if user.id == current_user.id and (not form.is_active.data or form.role.data != Role.ADMIN):
            form.role.errors.append(_("You cannot remove your own administrator role or deactivate yourself."))
        else:
            user.username = form.username.data.strip()
            user.display_name = form.display_name.data.strip()
            user.email = form.email.data or None
            user.mobile = form.mobile.data or None
            user.role = Role(form.role.data)
            user.language = form.language.data
            user.is_active = form.is_active.data
            if form.password.data:
                user.set_password(form.password.data)
            _apply_user_form(user, form)
            db.session.commit()
            flash(_("User %(name)s has been saved.", name=user.username), "success")
            return redirect(url_for(".list_users"))
    return render_template("auth/user_form.html", form=form, user=user)


def _apply_user_form(user: User, form: UserForm) -> None:
    user.areas = list(db.session.scalars(select(Area).where(Area.id.in_(form.areas.data or []))))
    user.offices = list(db.session.scalars(select(CustomsOffice).where(CustomsOffice.id.in_(form.offices.data or []))))
    user.manager_id = form.manager_id.data or None
    user.is_active = form.is_active.data


@admin_bp.post("/<int:user_id>/unlock")
@permission_required(Permission.MANAGE_USERS)
def unlock_user(user_id: int):
    user = db.get_or_404(User, user_id)
    if EmptyForm().validate_on_submit():
        services.unlock(user)
        db.session.commit()
        flash(_("User %(name)s can log in again.", name=user.username), "success")
    return redirect(url_for(".edit_user", user_id=user.id))
