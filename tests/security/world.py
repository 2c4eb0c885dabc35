"""A world of records for the generic security tests, built from ``db.metadata`` alone.

Every table gets a row; a table that reaches an enterprise (directly or through its parents), an area or a
customs office gets two: one on the "in" side (the enterprise, area and office of the scoped users) and one on
the "out" side (another area and office nobody but admins and managers sees). Every text column holds a
script payload, so any page that shows it unescaped is caught.

Models needing more than generic values (a real file on disk, a hashed token, a code the logic relies on)
declare a factory or a column value in ``tests/security/registry.py``. New features' models are covered
without any declaration when their columns are ordinary.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Time,
    TypeDecorator,
    insert,
    select,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import Mapper
from sqlalchemy.types import TypeEngine
from werkzeug.security import generate_password_hash

from crm.core.models import utcnow
from crm.extensions import db
from tests.security import registry

#: Payloads, longest first: each is used where it fits with a unique suffix.
PAYLOAD = "\"'><script>crmxss()</script>"
SHORT_PAYLOAD = "\"'><xss-crm>"
TINY_PAYLOAD = "<xss-crm>"
#: What an unescaped payload looks like in a page.
XSS_MARKERS = ("<script>crmxss", "<xss-crm")

#: Tables whose rows stand for a jurisdiction: the world makes an "in" and an "out" row of each, and of every
#: table that refers to one of them.
SIDED_ROOTS = frozenset({"enterprises", "areas", "customs_offices"})
IN, OUT = "in", "out"
#: The world users' password, hashed once with few iterations (no test logs them in with it).
WORLD_PASSWORD = "Security-Matrix-2048!"
WORLD_PASSWORD_HASH = generate_password_hash(WORLD_PASSWORD, method="pbkdf2:sha256:1000")
ROLES = ("admin", "manager", "bureau", "customs", "viewer")


class WorldError(RuntimeError):
    """A table the generic world cannot fill without a declaration in the registry."""


@dataclass(frozen=True)
class UserRef:
    """A world user by id (the ORM objects do not outlive the savepoints each request runs in)."""

    id: int
    username: str
    role: str


@dataclass
class World:
    """What the generic tests need: users by role, their tokens, and the id of each table's row(s)."""

    users: dict[str, UserRef] = field(default_factory=dict)
    #: role -> the plain API token of that role's user, and its row id.
    tokens: dict[str, str] = field(default_factory=dict)
    token_ids: dict[str, int] = field(default_factory=dict)
    #: table name -> side (IN, OUT or None) -> the row's primary key value.
    keys: dict[str, dict[str | None, Any]] = field(default_factory=dict)
    #: table name -> side -> the enterprise the row belongs to (for scope expectations), or None.
    enterprises: dict[str, dict[str | None, int | None]] = field(default_factory=dict)
    sided: frozenset[str] = frozenset()
    #: Unique pieces ("#17#") of the texts of records that belong to the "out" enterprise: a scoped user must
    #: never see one, on any page, export or API answer.
    out_of_scope_markers: set[str] = field(default_factory=set)
    #: (table, side) -> the plain secret whose hash a registry column value stored (a registration link's token).
    plain_secrets: dict[tuple[str, str | None], str] = field(default_factory=dict)
    #: (name, side) -> the primary key of a row made by ``registry.EXTRA_ROWS``.
    extra_keys: dict[tuple[str, str | None], Any] = field(default_factory=dict)

    def key(self, table: str, side: str | None) -> Any:
        sides = self.keys[table]
        return sides.get(side if table in self.sided else None, sides.get(IN, sides.get(None)))

    def enterprise_of(self, table: str, side: str | None) -> int | None:
        sides = self.enterprises.get(table, {})
        return sides.get(side if table in self.sided else None)

    def user(self, role: str) -> UserRef:
        return self.users[role]


def sided_tables(metadata=None) -> frozenset[str]:
    """Tables that are, or refer (through any chain of foreign keys) to, an enterprise, area or office."""
    metadata = metadata or db.metadata
    sided = set(SIDED_ROOTS)
    changed = True
    while changed:
        changed = False
        for table in metadata.tables.values():
            if table.name in sided:
                continue
            if any(fk.column.table.name in sided and fk.column.table is not table for fk in table.foreign_keys):
                sided.add(table.name)
                changed = True
    return frozenset(sided)


class WorldBuilder:
    """Creates (and remembers) one row per table and side, parents first."""

    def __init__(self) -> None:
        self.world = World(sided=sided_tables())
        self.counter = itertools.count(1)
        self.rows: dict[tuple[str, str | None], Any] = {}
        self.building: set[tuple[str, str | None]] = set()
        self.models = {mapper.local_table.name: mapper for mapper in db.Model.registry.mappers}
        self.user_rows: dict[str, Any] = {}
        #: The texts (by their unique "#n#" suffix) written into the row being created, innermost last.
        self.text_frames: list[list[str]] = []

    # --- text values ---------------------------------------------------------------------------------

    def text(self, length: int | None = None, *, payload: bool = True) -> str:
        """A unique text that fits ``length``, carrying the longest payload that fits."""
        suffix = f"#{next(self.counter)}#"
        if not payload:
            return ("t" + suffix)[: length or None]
        for candidate in (PAYLOAD, SHORT_PAYLOAD, TINY_PAYLOAD):
            if length is None or len(candidate) + len(suffix) <= length:
                if self.text_frames:
                    self.text_frames[-1].append(suffix)
                return candidate + suffix
        text = ("t" + suffix)[-length:] if length else "t" + suffix
        if self.text_frames:
            self.text_frames[-1].append(suffix)
        return text

    # --- rows ----------------------------------------------------------------------------------------

    def side_for(self, table_name: str, side: str | None) -> str | None:
        return (side or IN) if table_name in self.world.sided else None

    def row(self, table_name: str, side: str | None = None) -> Any:
        """The world's row of a table on a side, created on first use."""
        side = self.side_for(table_name, side)
        key = (table_name, side)
        if key in self.rows:
            return self.rows[key]
        if key in self.building:
            return None  # a cycle: the caller leaves the foreign key empty
        self.building.add(key)
        self.text_frames.append([])
        try:
            obj = self._create(table_name, side)
        finally:
            self.building.discard(key)
            texts = self.text_frames.pop()
        self.rows[key] = obj
        self._remember(table_name, side, obj)
        if side == OUT and self.world.enterprise_of(table_name, OUT) is not None:
            self.world.out_of_scope_markers.update(texts)
        return obj

    def extra(self, name: str, side: str) -> Any:
        """The row ``registry.EXTRA_ROWS[name]`` makes for a side (a second row of a table, owned by another
        record), created on first use; its texts count as out of scope like any row of the "out" enterprise."""
        if (name, side) in self.world.extra_keys:
            return self.world.extra_keys[(name, side)]
        self.text_frames.append([])
        try:
            obj = registry.EXTRA_ROWS[name](self, side)
            db.session.flush()
        finally:
            texts = self.text_frames.pop()
        mapper = self.models[obj.__table__.name]
        pk = mapper.primary_key_from_instance(obj)
        self.world.extra_keys[(name, side)] = pk[0] if len(pk) == 1 else ",".join(str(v) for v in pk)
        if side == OUT and getattr(obj, "enterprise_id", None) is not None:
            self.world.out_of_scope_markers.update(texts)
        return self.world.extra_keys[(name, side)]

    def _remember(self, table_name: str, side: str | None, obj: Any) -> None:
        if obj is None:
            return
        table = db.metadata.tables[table_name]
        mapper = self.models.get(table_name)
        if mapper is not None:
            pk = mapper.primary_key_from_instance(obj)
            value = pk[0] if len(pk) == 1 else ",".join(str(v) for v in pk)
        else:
            value = obj
        self.world.keys.setdefault(table_name, {})[side] = value
        enterprise_id = None
        if mapper is not None:
            try:
                enterprise_id = getattr(obj, "audit_enterprise_id", None)
            except Exception:  # a property that needs a relationship the generic row lacks
                enterprise_id = None
            if enterprise_id is None and "enterprise_id" in table.columns:
                enterprise_id = getattr(obj, "enterprise_id", None)
        self.world.enterprises.setdefault(table_name, {})[side] = enterprise_id

    def _create(self, table_name: str, side: str | None) -> Any:
        factory: Callable | None = registry.FACTORIES.get(table_name)
        if factory is not None:
            obj = factory(self, side)
            db.session.flush()
            return obj
        if table_name in registry.REUSE_EXISTING:
            return self._reuse(table_name)
        mapper = self.models.get(table_name)
        table = db.metadata.tables[table_name]
        if mapper is None:
            return self._association(table, side)
        values = self.values(mapper, table, side)
        try:
            with db.session.begin_nested():
                obj = mapper.class_(**values)
                db.session.add(obj)
                db.session.flush()
        except Exception as exc:  # a check constraint, a validator, a custom constructor ...
            raise WorldError(
                f"The security world could not create a generic row of {table_name} ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:300]}). Declare the column's value in COLUMN_VALUES or a factory "
                "in FACTORIES in tests/security/registry.py."
            ) from exc
        return obj

    def values(self, mapper: Mapper, table: Table, side: str | None) -> dict[str, Any]:
        """Constructor arguments for a generic row of ``table``."""
        values: dict[str, Any] = {}
        for column in table.columns:
            prop = mapper.get_property_by_column(column)
            name = f"{table.name}.{column.name}"
            if name in registry.COLUMN_VALUES:
                value = registry.COLUMN_VALUES[name]
                values[prop.key] = value(self, side) if callable(value) else value
                continue
            if column is table.autoincrement_column:
                continue  # the database numbers it (a primary key that is also a foreign key is not numbered)
            if column.computed is not None:
                continue  # a generated column: the database computes it from the others
            if column.foreign_keys:
                fk = next(iter(column.foreign_keys))
                parent_table = fk.column.table
                if parent_table is table:
                    values[prop.key] = None
                    continue
                parent = self.row(parent_table.name, side)
                if parent is None:
                    values[prop.key] = None
                    continue
                parent_mapper = self.models[parent_table.name]
                parent_prop = parent_mapper.get_property_by_column(fk.column)
                values[prop.key] = getattr(parent, parent_prop.key)
                continue
            values[prop.key] = self.value(column)
        return values

    def value(self, column) -> Any:
        """A valid value for a column with no foreign key, from its type (and default)."""
        kind = column.type
        if isinstance(kind, TypeDecorator):
            kind = kind.impl if isinstance(kind.impl, TypeEngine) else kind.impl_instance
        default = column.default.arg if column.default is not None and column.default.is_scalar else None
        if isinstance(kind, SAEnum) and kind.enum_class is not None:
            if isinstance(default, Enum):
                return default
            return next(iter(kind.enum_class))
        unique = column.unique or column.primary_key or _in_unique_constraint(column)
        if isinstance(kind, Boolean):
            return bool(default) if default is not None else False
        if isinstance(kind, (Integer,)):
            if unique:
                return 900_000 + next(self.counter)
            return default if isinstance(default, int) else 1
        if isinstance(kind, Numeric) and not isinstance(kind, Float):
            return Decimal("12.50")
        if isinstance(kind, Float):
            return 12.5
        if isinstance(kind, DateTime):
            return utcnow()
        if isinstance(kind, Date):
            return date.today()
        if isinstance(kind, Time):
            return datetime.now().time().replace(microsecond=0)
        if isinstance(kind, JSON):
            if column.nullable:
                return None
            return {}
        if isinstance(kind, LargeBinary):
            return b"x"
        if isinstance(kind, String):
            return self.text(kind.length)
        if column.nullable:
            return None
        raise TypeError(
            f"The security world cannot fill {column.table.name}.{column.name} ({kind!r}); declare a value for it "
            "in tests/security/registry.py COLUMN_VALUES or a factory in FACTORIES"
        )

    def _association(self, table: Table, side: str | None) -> dict[str, Any]:
        """A plain table (many-to-many): link the rows of the same side, unless such a link exists already."""
        values = {}
        for column in table.columns:
            if column.foreign_keys:
                fk = next(iter(column.foreign_keys))
                parent = self.row(fk.column.table.name, side)
                parent_mapper = self.models.get(fk.column.table.name)
                if parent is None or parent_mapper is None:
                    return {}
                values[column.name] = getattr(parent, parent_mapper.get_property_by_column(fk.column).key)
            elif not column.nullable and column.default is None and column.server_default is None:
                values[column.name] = self.value(column)
        exists = db.session.execute(
            select(table).where(*(table.c[name] == value for name, value in values.items())).limit(1)
        ).first()
        if exists is None:
            db.session.execute(insert(table).values(**values))
        return values

    def _reuse(self, table_name: str) -> Any:
        """An existing (seeded) row whose texts are overwritten with payloads: for tables whose codes the
        application's rules rely on (pipeline stages)."""
        mapper = self.models[table_name]
        obj = db.session.scalars(select(mapper.class_).order_by(*mapper.primary_key).limit(1)).first()
        if obj is None:
            raise LookupError(f"{table_name} has no seeded row to reuse")
        for column in mapper.local_table.columns:
            if column.primary_key or column.foreign_keys or column.unique:
                continue
            if isinstance(column.type, String) and not isinstance(column.type, SAEnum):
                setattr(obj, mapper.get_property_by_column(column).key, self.text(column.type.length))
        db.session.flush()
        return obj

    # --- the whole world -----------------------------------------------------------------------------

    def build(self) -> World:
        self.row("areas", IN)
        self.row("areas", OUT)
        for side in (IN, OUT):
            self.row("customs_offices", side)
            self.row("office_areas", side)
        self._users()
        for table_name in sorted(db.metadata.tables):
            if table_name in registry.SKIP_TABLES:
                continue
            for side in (IN, OUT) if table_name in self.world.sided else (None,):
                self.row(table_name, side)
        for name in registry.EXTRA_ROWS:
            for side in (IN, OUT):
                self.extra(name, side)
        db.session.commit()
        return self.world

    def _users(self) -> None:
        """One user of each role; the scoped ones see the "in" area and office only. (Built without the
        password service: hashing five passwords per world would dominate the suite's time.)"""
        from crm.auth.models import User
        from crm.auth.services import create_token, set_scope

        if self.user_rows:
            return
        area = self.row("areas", IN)
        office = self.row("customs_offices", IN)
        scopes = {
            "admin": {},
            "manager": {},
            "bureau": {"area_codes": [area.code]},
            "customs": {"office_codes": [office.code]},
            "viewer": {"area_codes": [area.code]},
        }
        for role in ROLES:
            user = User(
                username=self.text(64),
                role=role,
                password_hash=WORLD_PASSWORD_HASH,
                display_name=self.text(100),
                email=self.text(200),
                mobile=self.text(20),
            )
            set_scope(user, **scopes[role])
            db.session.add(user)
            db.session.flush()
            self.user_rows[role] = user
            self.world.users[role] = UserRef(user.id, user.username, role)
            token, plain = create_token(user, self.text(100))
            self.world.tokens[role] = plain
            self.world.token_ids[role] = token.id
        db.session.flush()


def build_world() -> World:
    return WorldBuilder().build()


def pdf_bytes() -> io.BytesIO:
    return io.BytesIO(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def _in_unique_constraint(column) -> bool:
    from sqlalchemy import UniqueConstraint

    for constraint in column.table.constraints:
        if isinstance(constraint, UniqueConstraint) and column.name in constraint.columns:
            return True
    return any(index.unique and column.name in index.columns for index in column.table.indexes)
