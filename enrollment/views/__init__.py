"""The applicant's pages: the wizard up to **Enroll now** (``wizard.py``), then the status tracker, the
answer to a reviewer, documents, and the primary contact's confirmation link (``tracking.py``)."""

from enrollment.views.tracking import (  # noqa: F401
    application_status,
    application_withdraw,
    confirmation_resend,
    contact_confirmation_flow,
    document_download,
    information_respond,
)
from enrollment.views.wizard import (  # noqa: F401
    details_step,
    membership_cancel,
    membership_step,
    profile_step,
    review_step,
    start,
    tenant_create_step,
    tenant_entra_callback,
    tenant_entra_start,
    tenant_step,
)
