"""What the isolation matrix needs to know about enrollment (see tests/isolation.py).

Applications belong to their applicant, not to an organization, until approval links the reseller they
provisioned; their routes are the access policy's APPLICANT routes, tried by
tests/enrollment/test_applicant_isolation.py. The matrix's snapshot covers their tables, so that no
organization page of any tenant changes them either.
"""

from enrollment.models import ApplicationDocument, ContactConfirmation, EnrollmentApplication, EnrollmentCheck
from tests.isolation import snapshot_table

snapshot_table(
    EnrollmentApplication,
    "status",
    "applicant_id",
    "tenant_id",
    "partner_id",
    "organization_id",
    "updated_at",
)
snapshot_table(EnrollmentCheck, "status", "reason_code")
snapshot_table(ContactConfirmation, "status", "token_hash")
snapshot_table(ApplicationDocument, "application_id", "file")
