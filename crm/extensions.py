"""Unbound extension singletons; ``create_app`` initialises each in one place."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from crm.core.lazy_migrate import LazyMigrate

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: expire_on_commit=False: objects keep their values after a commit, so templates rendered after the commit and
#: the audit trail (old values of changed fields) need no reload.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
#: Flask-Migrate (Alembic) is imported only when a ``flask db`` command runs.
migrate = LazyMigrate()
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
