"""Demo training events: past ones with attendance and feedback, upcoming ones with registrations and a waiting
list, a draft and a cancelled one. Invitations, registrations and feedback are bulk-inserted.

An ``events`` volume asks for that many events in all: the catalogue's first, then a series of the same kinds of
event by each area's commerce bureau (often with its customs district) or the province, spread over the past two
years and the next days, each with its invitations, registrations, check-ins and feedback.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from crm.core.timeutil import local_midnight
from crm.demo.names import mobile_number, person_name
from crm.enterprises.models import TargetTier
from crm.events.models import (
    CheckInMethod,
    Event,
    EventKind,
    EventStatus,
    Feedback,
    Invitation,
    InvitationSource,
    Registration,
    RegistrationStatus,
)
from crm.extensions import db
from crm.reference.models import RecommendingUnit
from crm.standards.models import StandardItem
from crm.standards.services import current_version

if TYPE_CHECKING:
    import random

    from crm.demo.services import DemoContext

#: One entry of the catalogue: (title, kind, day offset from today, start hour, hours, organiser unit codes,
#: capacity, per enterprise, status).
EventSpec = tuple[str, EventKind, int, float, float, tuple[str, ...], int | None, int | None, str]

#: (title, kind, day offset from today, start hour, hours, organiser unit codes, capacity, per enterprise, status)
CATALOGUE: tuple[EventSpec, ...] = (
    (
        "AEO信用培育政策宣讲会",
        EventKind.POLICY_BRIEFING,
        -150,
        9,
        3,
        ("commerce-350100", "customs-fuzhou"),
        120,
        3,
        "finished",
    ),
    (
        "高级认证企业标准解读：内部控制",
        EventKind.STANDARD_INTERPRETATION,
        -120,
        14.5,
        2.5,
        ("commerce-350500", "customs-xiamen"),
        80,
        2,
        "finished",
    ),
    ("贸易安全标准专题培训", EventKind.WORKSHOP, -95, 9, 6, ("commerce-350200", "customs-xiamen"), 60, 2, "finished"),
    ("关务负责人沙龙：认证准备经验分享", EventKind.SALON, -70, 14.5, 2, ("commerce-350600",), 30, 1, "finished"),
    ("财务状况标准与审计报告要点", EventKind.ONLINE_COURSE, -45, 19, 1.5, ("fj-commerce",), None, None, "finished"),
    (
        "守法规范标准解读",
        EventKind.STANDARD_INTERPRETATION,
        -30,
        9,
        3,
        ("commerce-350300", "customs-fuzhou"),
        50,
        2,
        "finished",
    ),
    (
        "平潭跨境贸易企业信用培育宣讲会",
        EventKind.POLICY_BRIEFING,
        -20,
        9.5,
        2,
        ("commerce-350128",),
        40,
        2,
        "published",
    ),
    (
        "宁德新能源企业AEO认证辅导培训",
        EventKind.WORKSHOP,
        -10,
        9,
        7,
        ("commerce-350900", "customs-fuzhou"),
        45,
        2,
        "finished",
    ),
    ("三明企业认证政策宣讲（延期）", EventKind.POLICY_BRIEFING, 3, 9, 2, ("commerce-350400",), 40, 2, "cancelled"),
    (
        "2026年高级认证企业标准解读会",
        EventKind.STANDARD_INTERPRETATION,
        6,
        9,
        3.5,
        ("fj-commerce", "customs-fuzhou", "customs-xiamen"),
        200,
        2,
        "published",
    ),
    (
        "泉州鞋服企业AEO培育专题培训",
        EventKind.WORKSHOP,
        12,
        14,
        3,
        ("commerce-350500", "customs-xiamen"),
        12,
        2,
        "published",
    ),
    (
        "信息系统与单证控制（线上课程）",
        EventKind.ONLINE_COURSE,
        20,
        19.5,
        1.5,
        ("commerce-350200",),
        None,
        3,
        "published",
    ),
    ("龙岩企业认证沙龙", EventKind.SALON, 40, 15, 2, ("commerce-350800", "customs-xiamen"), 25, 1, "draft"),
)

ROLES = ("关务经理", "关务专员", "财务负责人", "质量负责人", "总经理", "单证主管", "内审专员", "物流主管")
VENUES = {
    "350100": "福州市商务局三楼会议室",
    "350200": "厦门国际贸易中心报告厅",
    "350300": "莆田市行政服务中心会议室",
    "350400": "三明市商务局会议室",
    "350500": "泉州市商务局多功能厅",
    "350600": "漳州市商务局培训室",
    "350700": "南平市商务局会议室",
    "350800": "龙岩市商务局会议室",
    "350900": "宁德市商务局会议室",
    "350128": "平潭综合实验区行政服务中心",
}
COMMENTS = (
    "讲解清晰，案例贴近企业实际。",
    "希望增加内部控制制度模板的讲解。",
    "时间安排合理，建议提供课件下载。",
    "对贸易安全部分很有帮助。",
    "",
)
OPEN_STAGES = {"candidate", "pooled", "cultivating", "ready", "applied"}

#: The events an ``events`` volume adds after the catalogue: (topic, kind, start hour, hours, capacity, per
#: enterprise).
SERIES: tuple[tuple[str, EventKind, float, float, int | None, int | None], ...] = (
    ("AEO信用培育政策宣讲会", EventKind.POLICY_BRIEFING, 9, 3, 120, 3),
    ("高级认证企业标准解读：内部控制", EventKind.STANDARD_INTERPRETATION, 14.5, 2.5, 80, 2),
    ("高级认证企业标准解读：财务状况", EventKind.STANDARD_INTERPRETATION, 9, 3, 80, 2),
    ("守法规范标准解读", EventKind.STANDARD_INTERPRETATION, 9, 3, 50, 2),
    ("贸易安全标准专题培训", EventKind.WORKSHOP, 9, 6, 60, 2),
    ("AEO认证辅导培训", EventKind.WORKSHOP, 9, 7, 45, 2),
    ("关务负责人沙龙：认证准备经验分享", EventKind.SALON, 14.5, 2, 30, 1),
    ("信息系统与单证控制（线上课程）", EventKind.ONLINE_COURSE, 19.5, 1.5, None, 3),
)
#: Series events fall within this many days before today, or (one in ``SERIES_AHEAD_SHARE``) after it (no more
#: than 19 days ahead, so that, published 20 days before they start, they already are).
SERIES_PAST_DAYS = 730
SERIES_AHEAD_DAYS = 19
SERIES_AHEAD_SHARE = 0.1
#: Share of series events organised by the province (the rest by an area's commerce bureau).
SERIES_PROVINCIAL_SHARE = 0.1


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _fake_hash(ctx: DemoContext) -> str:
    """A random link fingerprint: demo links are issued again from the invitation page to be used."""
    return hashlib.sha256(f"demo-link-{ctx.rng.random()}-{ctx.rng.random()}".encode()).hexdigest()


class _Pools:
    """The enterprises each set of organisers may invite: this run's enterprises in an open stage within the
    organisers' jurisdiction (every area for a provincial unit), in id order; worked out once per jurisdiction."""

    def __init__(self, ctx: DemoContext) -> None:
        self.by_area: dict[str, list[int]] = {}
        for enterprise_id, (area, _office, stage) in sorted(ctx.enterprise_facts.items()):
            if stage in OPEN_STAGES:
                self.by_area.setdefault(area, []).append(enterprise_id)
        self.known: dict[frozenset[str] | None, list[int]] = {}

    def candidates(self, units: list[RecommendingUnit]) -> list[int]:
        areas: set[str] = set()
        provincial = False
        for unit in units:
            if unit.area is not None:
                areas.add(unit.area.code)
            elif unit.office is not None:
                areas.update(area.code for area in unit.office.areas)
            else:
                provincial = True
        key = None if provincial else frozenset(areas)
        if key not in self.known:
            chosen = self.by_area if key is None else {a: ids for a, ids in self.by_area.items() if a in key}
            self.known[key] = sorted(enterprise_id for ids in chosen.values() for enterprise_id in ids)
        return self.known[key]


def _series(ctx: DemoContext, units: dict[str, RecommendingUnit], count: int) -> Iterator[EventSpec]:
    """``count`` more events like the catalogue's: each area's commerce bureau (with its customs district half the
    time) or the province, past ones finished, upcoming ones published, some drafts and a few cancelled."""
    from crm.demo.services import AREA_WEIGHTS

    rng: random.Random = ctx.rng
    districts = {
        area.code: code
        for code, unit in sorted(units.items())
        if unit.office is not None and unit.office.parent_id is None
        for area in unit.office.areas
    }
    areas = [code for code in AREA_WEIGHTS if f"commerce-{code}" in units]
    weights = [AREA_WEIGHTS[code] for code in areas]
    issues: dict[str, int] = {}
    for _n in range(count):
        topic, kind, hour, hours, capacity, per_enterprise = rng.choice(SERIES)
        if not areas or rng.random() < SERIES_PROVINCIAL_SHARE:
            place, organisers = "全省", ("fj-commerce", *(("customs-fuzhou",) if rng.random() < 0.5 else ()))
        else:
            area = rng.choices(areas, weights=weights)[0]
            place = units[f"commerce-{area}"].area.name_zh
            district = districts.get(area)
            organisers = (f"commerce-{area}", *((district,) if district and rng.random() < 0.5 else ()))
        if rng.random() < SERIES_AHEAD_SHARE:
            offset = rng.randint(1, SERIES_AHEAD_DAYS)
            status = rng.choices(("published", "draft", "cancelled"), weights=(85, 10, 5))[0]
        else:
            offset, status = -rng.randint(1, SERIES_PAST_DAYS), "finished"
        title = f"{place}{topic}"
        issues[title] = issues.get(title, 0) + 1
        yield (
            f"{title}（第{issues[title]}期）",
            kind,
            offset,
            hour,
            hours,
            organisers,
            capacity,
            per_enterprise,
            status,
        )


def seed_events(ctx: DemoContext) -> None:
    """The catalogue's events, or as many as an ``events`` volume asks for, with their attendance."""
    rng = ctx.rng
    if not ctx.enterprise_facts:
        return
    units = {u.code: u for u in db.session.scalars(select(RecommendingUnit))}
    version = current_version(TargetTier.AEO_ADVANCED)
    items = (
        list(
            db.session.scalars(
                select(StandardItem).where(StandardItem.version_id == version.id).order_by(StandardItem.id)
            )
        )
        if version
        else []
    )
    creators = {user.username: user for user in ctx.users.values()}
    count = ctx.volumes.get("events")
    specs = CATALOGUE if count is None else (*CATALOGUE[:count], *_series(ctx, units, count - len(CATALOGUE)))
    pools = _Pools(ctx)

    invitations: list[dict[str, Any]] = []
    registrations: list[dict[str, Any]] = []
    feedback: list[dict[str, Any]] = []
    invitation_id = _next_id(Invitation)
    registration_id = _next_id(Registration)
    feedback_id = _next_id(Feedback)

    for title, kind, offset, hour, hours, unit_codes, capacity, per_enterprise, status in specs:
        organisers = [units[code] for code in unit_codes if code in units]
        if not organisers:
            continue
        local_area = next((u.area.code for u in organisers if u.area is not None), None)
        starts_at = local_midnight(ctx.today + timedelta(days=offset)) + timedelta(hours=hour)
        ends_at = starts_at + timedelta(hours=hours)
        online = kind == EventKind.ONLINE_COURSE
        creator = creators.get(f"bureau.{_slug(local_area)}") if local_area else creators.get("admin")
        event = Event(
            title=title,
            kind=kind,
            status=EventStatus(status),
            starts_at=starts_at,
            ends_at=ends_at,
            venue="" if online else VENUES.get(local_area or "", "福建省商务厅报告厅"),
            online_url="https://meeting.example.cn/aeo-training" if online else "",
            capacity=capacity,
            seats_per_enterprise=per_enterprise,
            description=f"{title}。面向优选培育推荐库企业，围绕海关高级认证标准和培育流程进行讲解，并现场答疑。",
            created_by_id=creator.id if creator else None,
            published_at=None if status == "draft" else starts_at - timedelta(days=20),
            created_at=starts_at - timedelta(days=25),
        )
        if status == "cancelled":
            event.cancelled_at = ctx.now - timedelta(days=1)
            event.cancel_reason = "因场地调整延期举办，新日期另行通知。"
        event.organisers = organisers
        event.topics = rng.sample(items, k=min(len(items), rng.choice((1, 2, 3)))) if items else []
        db.session.add(event)
        db.session.flush()
        if status == "draft":
            continue

        pool = pools.candidates(organisers)
        invited = rng.sample(pool, k=min(len(pool), rng.randrange(15, 45)))
        past = offset < 0
        seats = 0
        for enterprise_id in invited:
            invited_at = event.created_at + timedelta(days=rng.randrange(1, 5), minutes=rng.randrange(0, 600))
            invitations.append(
                {
                    "id": invitation_id,
                    "event_id": event.id,
                    "enterprise_id": enterprise_id,
                    "token_hash": _fake_hash(ctx),
                    "source": InvitationSource.FILTER,
                    "contact_id": None,
                    "email": "",
                    "invited_by_id": event.created_by_id,
                    "link_issued_at": invited_at,
                    "last_opened_at": invited_at + timedelta(days=1) if rng.random() < 0.7 else None,
                    "revoked_at": None,
                    "created_at": invited_at,
                    "updated_at": invited_at,
                }
            )
            attended_any = False
            if rng.random() < (0.7 if past else 0.5):
                for _n in range(rng.randrange(1, (per_enterprise or 3) + 1)):
                    registered_at = invited_at + timedelta(days=rng.randrange(1, 10), minutes=rng.randrange(0, 600))
                    state = RegistrationStatus.REGISTERED
                    if capacity is not None and seats >= capacity:
                        state = RegistrationStatus.WAITLISTED
                    elif rng.random() < 0.05:
                        state = RegistrationStatus.CANCELLED
                    else:
                        seats += 1
                    checked_in = past and state == RegistrationStatus.REGISTERED and rng.random() < 0.85
                    checked_at = starts_at - timedelta(minutes=rng.randrange(0, 30)) if checked_in else None
                    attended_any = attended_any or checked_in
                    registrations.append(
                        {
                            "id": registration_id,
                            "event_id": event.id,
                            "invitation_id": invitation_id,
                            "enterprise_id": enterprise_id,
                            "name": person_name(rng),
                            "role": rng.choice(ROLES),
                            "mobile": mobile_number(rng),
                            "email": "",
                            "status": state,
                            "registered_by_id": None,
                            "promoted_at": None,
                            "cancelled_at": registered_at + timedelta(days=2)
                            if state == RegistrationStatus.CANCELLED
                            else None,
                            "cancelled_by_id": None,
                            "checked_in_at": checked_at,
                            "checked_in_by_id": event.created_by_id if checked_in else None,
                            "check_in_method": rng.choice((CheckInMethod.QR, CheckInMethod.QR, CheckInMethod.SEARCH))
                            if checked_in
                            else None,
                            "certificate_no": None,
                            "certificate_file_id": None,
                            "created_at": registered_at,
                            "updated_at": checked_at or registered_at,
                        }
                    )
                    registration_id += 1
            if attended_any and rng.random() < 0.5:
                given_at = ends_at + timedelta(hours=rng.randrange(1, 72))
                feedback.append(
                    {
                        "id": feedback_id,
                        "event_id": event.id,
                        "invitation_id": invitation_id,
                        "enterprise_id": enterprise_id,
                        "rating_overall": rng.choice((5, 5, 4, 4, 3)),
                        "rating_content": rng.choice((5, 4, 4, 3)),
                        "rating_organisation": rng.choice((5, 5, 4)),
                        "comment": rng.choice(COMMENTS),
                        "created_at": given_at,
                        "updated_at": given_at,
                    }
                )
                feedback_id += 1
            invitation_id += 1

    from crm.demo.services import bulk_insert, reset_id_sequences

    bulk_insert(Invitation.__table__, invitations)
    bulk_insert(Registration.__table__, registrations)
    bulk_insert(Feedback.__table__, feedback)
    reset_id_sequences(Invitation.__table__, Registration.__table__, Feedback.__table__)


def _slug(area_code: str | None) -> str:
    from crm.demo.services import AREA_SLUGS

    return AREA_SLUGS.get(area_code or "", "")
