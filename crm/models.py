"""Every feature's models, imported in one place so the metadata (and string relationships) are complete."""

from crm.auth import models as auth_models  # noqa: F401
from crm.cohorts import models as cohort_models  # noqa: F401
from crm.core import audit, files, jobs, settings  # noqa: F401
from crm.dashboard import models as dashboard_models  # noqa: F401
from crm.enterprises import models as enterprise_models  # noqa: F401
from crm.events import models as event_models  # noqa: F401
from crm.exports import models as export_models  # noqa: F401
from crm.notifications import models as notification_models  # noqa: F401
from crm.operations import models as operation_models  # noqa: F401
from crm.pipeline import models as pipeline_models  # noqa: F401
from crm.plans import models as plan_models  # noqa: F401
from crm.reference import models as reference_models  # noqa: F401
from crm.standards import models as standard_models  # noqa: F401
from crm.visits import models as visit_models  # noqa: F401
