"""The review state machine of an enrollment application (issue 8, point 8).

draft → awaiting contact confirmation → checks running → in review → approved | rejected | more information
requested → resubmitted → in review; withdrawn and expired are the exits. Only ``enrollment/services/``
moves an application, through ``portal.transitions``.
"""

from enrollment.models import ApplicationStatus as S
from portal.transitions import Transitions

APPLICATION_STATUS = Transitions(
    S,
    {
        S.DRAFT: {S.AWAITING_CONFIRMATION, S.WITHDRAWN, S.EXPIRED},
        S.AWAITING_CONFIRMATION: {S.CHECKS_RUNNING, S.WITHDRAWN, S.EXPIRED},
        S.CHECKS_RUNNING: {S.IN_REVIEW, S.WITHDRAWN},
        S.IN_REVIEW: {S.APPROVED, S.REJECTED, S.MORE_INFORMATION, S.WITHDRAWN},
        S.MORE_INFORMATION: {S.RESUBMITTED, S.WITHDRAWN, S.EXPIRED},
        S.RESUBMITTED: {S.IN_REVIEW, S.WITHDRAWN},
    },
)

#: What the applicant may still do: withdraw from any live status.
WITHDRAWABLE = APPLICATION_STATUS.sources_of(S.WITHDRAWN)
