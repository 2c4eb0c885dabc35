"""Forms for logging in, the user's own profile, and user administration."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp, ValidationError

from crm.auth.models import User
from crm.auth.passwords import password_problems
from crm.core.permissions import Role
from crm.extensions import db
from crm.reference.models import Area, CustomsOffice

MOBILE_PATTERN = r"^1[3-9]\d{9}$"


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), [DataRequired(), Length(max=64)], render_kw={"autocomplete": "username"})
    password = PasswordField(
        _l("Password"), [DataRequired(), Length(max=128)], render_kw={"autocomplete": "current-password"}
    )


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Display name"), [DataRequired(), Length(max=100)])
    email = EmailField(_l("Email"), [Optional(), Email(check_deliverability=False), Length(max=200)])
    mobile = StringField(
        _l("Mobile"), [Optional(), Regexp(MOBILE_PATTERN, message=_l("Enter an 11-digit mainland mobile number."))]
    )
    language = SelectField(_l("Language"), choices=[("zh_CN", "简体中文"), ("en", "English")])


def _check_password_strength(form, field) -> None:
    if field.data:
        user_inputs = [
            getattr(form, "username_hint", ""),
            form.data.get("username") or "",
            form.data.get("email") or "",
        ]
        problems = password_problems(field.data, user_inputs)
        if problems:
            raise ValidationError(problems[0])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), [DataRequired()])
    new_password = PasswordField(_l("New password"), [DataRequired(), _check_password_strength])
    confirm_password = PasswordField(
        _l("Repeat the new password"), [DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))]
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.username_hint = user.username

    def validate_current_password(self, field) -> None:
        if not self.user.check_password(field.data):
            raise ValidationError(_l("The current password is wrong."))


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), [DataRequired(), Length(max=100)], description=_l("What the token is for."))


class UserForm(FlaskForm):
    username = StringField(
        _l("Username"),
        [
            DataRequired(),
            Length(max=64),
            Regexp(r"^[A-Za-z0-9_.-]+$", message=_l("Use letters, digits, dots, hyphens and underscores.")),
        ],
    )
    display_name = StringField(_l("Display name"), [DataRequired(), Length(max=100)])
    email = EmailField(_l("Email"), [Optional(), Email(check_deliverability=False), Length(max=200)])
    mobile = StringField(
        _l("Mobile"), [Optional(), Regexp(MOBILE_PATTERN, message=_l("Enter an 11-digit mainland mobile number."))]
    )
    role = SelectField(_l("Role"), choices=[])
    areas = SelectMultipleField(_l("Areas"), coerce=int, description=_l("For commerce-bureau staff and viewers."))
    offices = SelectMultipleField(
        _l("Customs offices"),
        coerce=int,
        description=_l("For customs officers and viewers; a district office covers its subordinate offices."),
    )
    manager_id = SelectField(_l("Manager"), coerce=int, description=_l("Receives escalations of overdue work."))
    language = SelectField(_l("Language"), choices=[("zh_CN", "简体中文"), ("en", "English")])
    is_active = BooleanField(_l("Active"), default=True)
    password = PasswordField(_l("Password"), [_check_password_strength])

    def __init__(self, *args, user: User | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.role.choices = Role.choices()
        self.areas.choices = [
            (a.id, a.name_zh) for a in db.session.scalars(select(Area).order_by(Area.sort_order, Area.code))
        ]
        self.offices.choices = [
            (o.id, o.name_zh if o.parent_id is None else f"— {o.name_zh}") for o in _offices_in_tree_order()
        ]
        others = select(User).where(User.is_active).order_by(User.username)
        self.manager_id.choices = [(0, "—")] + [
            (u.id, f"{u.display_name} ({u.username})")
            for u in db.session.scalars(others)
            if user is None or u.id != user.id
        ]
        if user is None:
            self.password.validators = [DataRequired(), _check_password_strength]
            self.password.description = _l("The user can change it after logging in.")
        else:
            self.password.description = _l("Leave empty to keep the current password.")

    def validate_username(self, field) -> None:
        existing = db.session.scalars(select(User).where(User.username == field.data.strip())).first()
        if existing is not None and (self.user is None or existing.id != self.user.id):
            raise ValidationError(_l("This username is taken."))

    def validate_areas(self, field) -> None:
        role = Role(self.role.data) if self.role.data in Role._value2member_map_ else None
        if role == Role.BUREAU and not field.data:
            raise ValidationError(_l("Commerce-bureau staff need at least one area."))
        if role in (Role.CUSTOMS, Role.ADMIN, Role.MANAGER) and field.data:
            raise ValidationError(_l("This role takes no areas."))

    def validate_offices(self, field) -> None:
        role = Role(self.role.data) if self.role.data in Role._value2member_map_ else None
        if role == Role.CUSTOMS and not field.data:
            raise ValidationError(_l("Customs officers need at least one customs office."))
        if role in (Role.BUREAU, Role.ADMIN, Role.MANAGER) and field.data:
            raise ValidationError(_l("This role takes no customs offices."))
        if role == Role.VIEWER and not field.data and not self.areas.data:
            raise ValidationError(_l("Viewers need at least one area or customs office."))


def _offices_in_tree_order() -> list[CustomsOffice]:
    offices = list(db.session.scalars(select(CustomsOffice).order_by(CustomsOffice.sort_order, CustomsOffice.id)))
    districts = [o for o in offices if o.parent_id is None]
    ordered: list[CustomsOffice] = []
    for district in districts:
        ordered.append(district)
        ordered.extend(o for o in offices if o.parent_id == district.id)
    return ordered
