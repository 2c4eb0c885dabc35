"""``flask crm seed-demo`` gives enterprises contacts and recommendations."""

from sqlalchemy import func, select

from crm.demo.services import seed_demo
from crm.enterprises.models import Contact, Enterprise, Recommendation
from crm.enterprises.services import highest_priority
from crm.extensions import db


def test_demo_contacts_and_recommendations():
    seed_demo(enterprises=60, seed=5)
    enterprises = db.session.scalars(select(Enterprise)).all()
    primaries = dict(
        db.session.execute(
            select(Contact.enterprise_id, func.count()).where(Contact.is_primary).group_by(Contact.enterprise_id)
        ).all()
    )
    assert all(primaries.get(e.id) == 1 for e in enterprises), "every enterprise has exactly one primary contact"
    assert db.session.scalar(select(func.count()).select_from(Recommendation)) >= 30
    for enterprise in enterprises:
        if enterprise.recommendations:
            assert highest_priority(enterprise.recommendations) == enterprise.priority
