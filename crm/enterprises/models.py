"""Enterprises of the 优选培育推荐库, their contacts, recommendations and credit-status history."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Column,
    Computed,
    ForeignKey,
    Index,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.core.models import (
    CREATE_PG_TRGM,
    AuthorMixin,
    LabelledEnum,
    TimestampMixin,
    UTCDateTime,
    enum_type,
    utcnow,
)
from crm.extensions import db


class CreditStatus(LabelledEnum):
    """Customs credit tiers under Order 282 (from 1 April 2026)."""

    AEO_ADVANCED = "aeo_advanced"
    AEO = "aeo"
    REGULAR = "regular"
    DISCREDITED = "discredited"
    SEVERELY_DISCREDITED = "severely_discredited"

    @classmethod
    def _labels(cls):
        return {
            cls.AEO_ADVANCED: _l("Advanced certified enterprise"),
            cls.AEO: _l("Certified enterprise"),
            cls.REGULAR: _l("Regular enterprise"),
            cls.DISCREDITED: _l("Discredited enterprise"),
            cls.SEVERELY_DISCREDITED: _l("Severely discredited enterprise"),
        }

    @property
    def is_aeo(self) -> bool:
        return self in (CreditStatus.AEO_ADVANCED, CreditStatus.AEO)

    @property
    def is_discredited(self) -> bool:
        return self in (CreditStatus.DISCREDITED, CreditStatus.SEVERELY_DISCREDITED)


class TargetTier(LabelledEnum):
    """The AEO tier a candidate aims at."""

    AEO_ADVANCED = "aeo_advanced"
    AEO = "aeo"

    @classmethod
    def _labels(cls):
        return {cls.AEO_ADVANCED: _l("Advanced certified enterprise"), cls.AEO: _l("Certified enterprise")}


class Priority(LabelledEnum):
    A = "A"
    B = "B"
    C = "C"

    @classmethod
    def _labels(cls):
        return {cls.A: _l("A (highest)"), cls.B: _l("B"), cls.C: _l("C")}


class ContactRole(LabelledEnum):
    LEGAL_REPRESENTATIVE = "legal_rep"
    CUSTOMS_LEAD = "customs_lead"
    FINANCE_LEAD = "finance_lead"
    LIAISON = "liaison"
    OTHER = "other"

    @classmethod
    def _labels(cls):
        return {
            cls.LEGAL_REPRESENTATIVE: _l("Legal representative"),
            cls.CUSTOMS_LEAD: _l("Head of customs affairs"),
            cls.FINANCE_LEAD: _l("Head of finance"),
            cls.LIAISON: _l("Liaison"),
            cls.OTHER: _l("Other"),
        }


enterprise_business_types = Table(
    "enterprise_business_types",
    db.metadata,
    Column("enterprise_id", ForeignKey("enterprises.id", ondelete="CASCADE"), primary_key=True),
    Column("business_type_id", ForeignKey("business_types.id"), primary_key=True, index=True),
)

enterprise_key_categories = Table(
    "enterprise_key_categories",
    db.metadata,
    Column("enterprise_id", ForeignKey("enterprises.id", ondelete="CASCADE"), primary_key=True),
    Column("key_category_id", ForeignKey("key_categories.id"), primary_key=True, index=True),
)

recommendation_key_categories = Table(
    "recommendation_key_categories",
    db.metadata,
    Column("recommendation_id", ForeignKey("recommendations.id", ondelete="CASCADE"), primary_key=True),
    Column("key_category_id", ForeignKey("key_categories.id"), primary_key=True),
)


class Enterprise(TimestampMixin, AuthorMixin, db.Model):
    __tablename__ = "enterprises"
    __table_args__ = (
        # The board: a column is one stage's first cards in a scope, ORDER BY stage_entered_at, id LIMIT n (and the
        # stage counts of a scope read the first two alone).
        Index("ix_enterprises_area_id_stage_stage_entered_at_id", "area_id", "stage", "stage_entered_at", "id"),
        Index("ix_enterprises_office_id_stage_stage_entered_at_id", "office_id", "stage", "stage_entered_at", "id"),
        Index("ix_enterprises_stage_stage_entered_at_id", "stage", "stage_entered_at", "id"),
        # The list's sort orders, each ending in id so that deep pages are read from the index alone.
        # Covers the scope and stage columns, so deep pages of the default order read the index alone.
        Index(
            "ix_enterprises_updated_at_id_scope",
            "updated_at",
            "id",
            postgresql_include=["area_id", "office_id", "stage"],
        ),
        Index("ix_enterprises_area_id_updated_at_id", "area_id", "updated_at", "id"),
        Index("ix_enterprises_office_id_updated_at_id", "office_id", "updated_at", "id"),
        Index("ix_enterprises_created_at_id", "created_at", "id"),
        Index("ix_enterprises_stage_entered_at_id", "stage_entered_at", "id"),
        Index("ix_enterprises_name_id", "name", "id"),
        # Names start with the city, so an area's names are clustered in name order: sort within the area.
        Index("ix_enterprises_area_id_name_id", "area_id", "name", "id"),
        Index("ix_enterprises_office_id_name_id", "office_id", "name", "id"),
        # The pool: candidates by priority, then the longest waiting.
        Index("ix_enterprises_stage_priority_stage_entered_at_id", "stage", "priority", "stage_entered_at", "id"),
        Index(
            "ix_enterprises_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
    )
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The name without company-form words, brackets and spaces: the key for "similar name" warnings.
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    #: 统一社会信用代码, normalised (half-width, no spaces, upper case) and checked with stdnum.cn.uscc.
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    #: 海关注册编码 (10 characters), unique when present.
    customs_code: Mapped[str | None] = mapped_column(String(10), unique=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    #: The competent customs office; it must serve the enterprise's area.
    office_id: Mapped[int | None] = mapped_column(ForeignKey("customs_offices.id"))
    industry: Mapped[str] = mapped_column(String(100), default="")
    target_tier: Mapped[TargetTier] = mapped_column(enum_type(TargetTier, 20), default=TargetTier.AEO_ADVANCED)
    #: Last year's import and export value, in 万美元 (ten thousand US dollars).
    trade_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    employees: Mapped[int | None] = mapped_column()
    address: Mapped[str] = mapped_column(String(300), default="")
    #: The current tier; its dated history is in credit_status_changes.
    credit_status: Mapped[CreditStatus] = mapped_column(
        enum_type(CreditStatus, 24), default=CreditStatus.REGULAR, index=True
    )
    #: Recommendation priority (A/B/C), the highest of the enterprise's recommendations unless set by hand.
    priority: Mapped[Priority | None] = mapped_column(enum_type(Priority, 1), index=True)
    #: True once a user chose the priority; otherwise it follows the recommendations.
    priority_set_by_hand: Mapped[bool] = mapped_column(default=False)
    commerce_officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    customs_officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: The customs 企业协调员 assigned once the enterprise is certified.
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")

    stage: Mapped[str] = mapped_column(ForeignKey("stages.code"), default="candidate")
    stage_entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the latest visit that took place started (None: never visited), kept by ``crm.visits.services``
    #: (``refresh_last_visit``): My work sorts an officer's enterprises by it.
    last_visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Outcome of the latest assessment ("pass", "fail", "incomplete"), kept by the assessment service.
    readiness_outcome: Mapped[str | None] = mapped_column(String(12))
    readiness_total: Mapped[int | None] = mapped_column()
    #: Set by a credit downgrade (measure 22): the notice's incentives stop applying.
    incentives_suspended: Mapped[bool] = mapped_column(default=False, index=True)
    #: Name, 统一社会信用代码 and 海关注册编码 in one string, computed by the database: the list's search looks for
    #: a substring of it, through one trigram index on PostgreSQL. (A trigram index on the code columns
    #: themselves would also answer equality, and the planner would prefer it to the unique index for bulk
    #: lookups of a thousand codes: seconds instead of milliseconds.)
    search_text: Mapped[str] = mapped_column(
        Text, Computed("name || ' ' || uscc || ' ' || coalesce(customs_code, '')", persisted=True)
    )
    #: The spreadsheet import that created the record (undo deletes what an import created).
    import_batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprise_imports.id", ondelete="SET NULL", use_alter=True), index=True
    )

    area = relationship("Area")
    office = relationship("CustomsOffice")
    stage_ref = relationship("Stage", lazy="joined", viewonly=True)
    commerce_officer = relationship("User", foreign_keys=[commerce_officer_id])
    customs_officer = relationship("User", foreign_keys=[customs_officer_id])
    coordinator = relationship("User", foreign_keys=[coordinator_id])
    business_types = relationship(
        "BusinessType", secondary=enterprise_business_types, order_by="(BusinessType.sort_order, BusinessType.code)"
    )
    categories = relationship(
        "KeyCategory", secondary=enterprise_key_categories, order_by="(KeyCategory.sort_order, KeyCategory.code)"
    )
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="enterprise",
        cascade="all, delete-orphan",
        order_by="(Contact.is_primary.desc(), Contact.id)",
    )
    recommendations: Mapped[list[Recommendation]] = relationship(
        back_populates="enterprise",
        cascade="all, delete-orphan",
        order_by="(Recommendation.recommended_on.desc(), Recommendation.id.desc())",
    )
    credit_history: Mapped[list[CreditStatusChange]] = relationship(
        back_populates="enterprise",
        cascade="all, delete-orphan",
        order_by="(CreditStatusChange.effective_on.desc(), CreditStatusChange.id.desc())",
    )
    #: The current AEO application and certificate (``crm.pipeline``), read-only here: for pages that load the
    #: record with it in one query.
    certification = relationship("Certification", uselist=False, viewonly=True)

    @property
    def audit_enterprise_id(self) -> int:
        return self.id

    @property
    def customs_contact(self) -> Contact | None:
        """The enterprise's own 关务 contact: its head of customs affairs (关务负责人)."""
        return next((c for c in self.contacts if c.role == ContactRole.CUSTOMS_LEAD), None)

    @property
    def primary_contact(self) -> Contact | None:
        return next((c for c in self.contacts if c.is_primary), self.contacts[0] if self.contacts else None)

    @property
    def aeo_code(self) -> str | None:
        """The code used abroad under mutual recognition: AEOCN + the customs registration code."""
        return f"AEOCN{self.customs_code}" if self.customs_code else None

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<Enterprise {self.id} {self.uscc}>"


class Contact(TimestampMixin, db.Model):
    __tablename__ = "contacts"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    role: Mapped[ContactRole] = mapped_column(enum_type(ContactRole, 20), default=ContactRole.LIAISON)
    #: A free-text title when the role is "other" or needs precision (e.g. 关务专员).
    title: Mapped[str] = mapped_column(String(60), default="")
    mobile: Mapped[str] = mapped_column(String(20), default="")
    phone: Mapped[str] = mapped_column(String(30), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    is_primary: Mapped[bool] = mapped_column(default=False)
    #: Set when a spreadsheet import added the contact.
    import_batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprise_imports.id", ondelete="SET NULL", use_alter=True), index=True
    )

    enterprise: Mapped[Enterprise] = relationship(back_populates="contacts")

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return self.name


class Recommendation(TimestampMixin, db.Model):
    """One unit's recommendation of an enterprise into the pool (入库推荐)."""

    __tablename__ = "recommendations"
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("recommending_units.id"), index=True)
    recommended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    recommended_on: Mapped[date] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[Priority] = mapped_column(enum_type(Priority, 1), default=Priority.B)
    #: Set when a spreadsheet import added the recommendation.
    import_batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprise_imports.id", ondelete="SET NULL", use_alter=True), index=True
    )

    enterprise: Mapped[Enterprise] = relationship(back_populates="recommendations")
    unit = relationship("RecommendingUnit")
    recommended_by = relationship("User")
    categories = relationship(
        "KeyCategory", secondary=recommendation_key_categories, order_by="(KeyCategory.sort_order, KeyCategory.code)"
    )

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return f"{self.unit} → {self.enterprise_id}" if self.unit else str(self.enterprise_id)


class CreditStatusChange(TimestampMixin, db.Model):
    """A dated entry of the enterprise's credit-status history (certification, downgrade, restoration ...)."""

    __tablename__ = "credit_status_changes"
    __table_args__ = (Index("ix_credit_status_changes_enterprise_id_effective_on", "enterprise_id", "effective_on"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    status: Mapped[CreditStatus] = mapped_column(enum_type(CreditStatus, 24))
    effective_on: Mapped[date] = mapped_column()
    #: Where the information came from (a customs notice, 信用中国, a decision number ...).
    source: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    enterprise: Mapped[Enterprise] = relationship(back_populates="credit_history")
    recorded_by = relationship("User")

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return f"{self.status.label} ({self.effective_on})"


event.listen(Enterprise.__table__, "before_create", CREATE_PG_TRGM)


class EnterpriseNote(TimestampMixin, db.Model):
    """A note added on the enterprise page (a call, a remark from a meeting); shown in the timeline."""

    __tablename__ = "enterprise_notes"
    __table_args__ = (Index("ix_enterprise_notes_enterprise_id_created_at", "enterprise_id", "created_at"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)

    enterprise: Mapped[Enterprise] = relationship()
    author = relationship("User")

    @property
    def audit_enterprise_id(self) -> int:
        return self.enterprise_id

    def __str__(self) -> str:
        return self.body[:60]


class SavedView(TimestampMixin, db.Model):
    """A named set of list filters (the list's query string), private to its owner unless shared."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)
    __audit__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    #: The list's filters and sort as a URL query string (``area=350500&stage=pooled&sort=name``).
    query: Mapped[str] = mapped_column(String(1000), default="")
    #: Shared views are offered to every colleague; each sees the results within their own scope.
    is_shared: Mapped[bool] = mapped_column(default=False, index=True)

    owner = relationship("User")

    def __str__(self) -> str:
        return self.name


class ImportStatus(LabelledEnum):
    UPLOADED = "uploaded"
    ANALYSING = "analysing"
    ANALYSED = "analysed"
    COMMITTING = "committing"
    COMMITTED = "committed"
    REFUSED = "refused"
    FAILED = "failed"
    UNDONE = "undone"

    @classmethod
    def _labels(cls):
        return {
            cls.UPLOADED: _l("Waiting for the column mapping"),
            cls.ANALYSING: _l("Checking rows"),
            cls.ANALYSED: _l("Ready to import"),
            cls.COMMITTING: _l("Importing"),
            cls.COMMITTED: _l("Imported"),
            cls.REFUSED: _l("Refused: nothing imported"),
            cls.FAILED: _l("Failed: nothing imported"),
            cls.UNDONE: _l("Undone"),
        }

    @property
    def is_running(self) -> bool:
        return self in (ImportStatus.ANALYSING, ImportStatus.COMMITTING)


class ExistingAction(LabelledEnum):
    """What an import does with a row whose 统一社会信用代码 is already in the CRM."""

    SKIP = "skip"
    FILL_EMPTY = "fill_empty"

    @classmethod
    def _labels(cls):
        return {cls.SKIP: _l("Skip them"), cls.FILL_EMPTY: _l("Fill in their empty fields")}


class EnterpriseImport(db.Model):
    """One spreadsheet import: who, when, which file, the column mapping, the choices made and the counts."""

    __tablename__ = "enterprise_imports"
    __audit__ = True
    __audit_exclude__ = ("processed_rows",)

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    #: The uploaded file in the file store.
    file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="SET NULL"), index=True)
    #: "xlsx" or "csv".
    kind: Mapped[str] = mapped_column(String(10))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    status: Mapped[ImportStatus] = mapped_column(enum_type(ImportStatus, 12), default=ImportStatus.UPLOADED)
    #: Where the table starts: the header row (1-based) and the sheet name (XLSX).
    sheet: Mapped[str | None] = mapped_column(String(100))
    header_row: Mapped[int | None] = mapped_column()
    #: The spreadsheet's column headings, in order.
    headers: Mapped[list | None] = mapped_column(JSON)
    #: {column index as text: field name}: the guess, then the user's choice.
    mapping: Mapped[dict | None] = mapped_column(JSON)
    existing_action: Mapped[ExistingAction] = mapped_column(enum_type(ExistingAction, 12), default=ExistingAction.SKIP)
    #: False: all-or-nothing (the default); True: the valid rows are imported and the others rejected.
    valid_rows_only: Mapped[bool] = mapped_column(default=False)
    total_rows: Mapped[int] = mapped_column(default=0)
    #: Rows handled so far by a running job (for the progress bar).
    processed_rows: Mapped[int] = mapped_column(default=0)
    new_rows: Mapped[int] = mapped_column(default=0)
    existing_rows: Mapped[int] = mapped_column(default=0)
    duplicate_rows: Mapped[int] = mapped_column(default=0)
    invalid_rows: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    rejected_count: Mapped[int] = mapped_column(default=0)
    #: The rejected rows with a reason column (XLSX), once committed or refused.
    error_report_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id", ondelete="SET NULL"))
    #: Fields an import filled on existing enterprises: {enterprise id: {field: imported value}}, for undo.
    filled_fields: Mapped[dict | None] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(Text, default="")
    committed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    created_by = relationship("User", foreign_keys=[created_by_id])
    undone_by = relationship("User", foreign_keys=[undone_by_id])
    file = relationship("StoredFile", foreign_keys=[file_id])
    error_report = relationship("StoredFile", foreign_keys=[error_report_id])

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 0
        return min(100, round(100 * self.processed_rows / self.total_rows))

    def __str__(self) -> str:
        return self.filename


class RowLabel(LabelledEnum):
    NEW = "new"
    EXISTING = "existing"
    DUPLICATE = "duplicate"
    INVALID = "invalid"

    @classmethod
    def _labels(cls):
        return {
            cls.NEW: _l("New to the CRM"),
            cls.EXISTING: _l("Already in the CRM"),
            cls.DUPLICATE: _l("Duplicate within the file"),
            cls.INVALID: _l("Invalid"),
        }


class EnterpriseImportRow(db.Model):
    """One data row of an import as checked for the preview: its label, reasons and cleaned values."""

    __tablename__ = "enterprise_import_rows"
    __table_args__ = (
        #: One row per spreadsheet row of an import; also the index of the preview's pages of every label.
        Index("uq_enterprise_import_rows_import_id_row_number", "import_id", "row_number", unique=True),
        #: The preview's pages of one label.
        Index("ix_enterprise_import_rows_import_id_label", "import_id", "label", "row_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("enterprise_imports.id", ondelete="CASCADE"))
    #: The row's number in the spreadsheet (1-based, as Excel shows it).
    row_number: Mapped[int] = mapped_column()
    label: Mapped[RowLabel] = mapped_column(enum_type(RowLabel, 10))
    #: Why the row is invalid (or a duplicate), and warnings that do not block it; in the importer's language.
    errors: Mapped[list | None] = mapped_column(JSON)
    warnings: Mapped[list | None] = mapped_column(JSON)
    #: The cleaned values (JSON-safe), and the raw cells for the error report.
    values: Mapped[dict | None] = mapped_column(JSON)
    raw: Mapped[list | None] = mapped_column(JSON)
    existing_id: Mapped[int | None] = mapped_column()
