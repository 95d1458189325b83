from config.errors import Conflict, DomainError


class InvalidTransition(Conflict):
    """A complaint status change statuses.NEXT does not allow, or a pause that does not apply. Like leads', a
    DomainError answered 409 `invalid_transition` by the API and shown on the form's field by the pages."""

    status, code = 409, "invalid_transition"


class ResolutionRequired(DomainError):
    code = "required"


class AlreadyAnswered(DomainError):
    status, code = 410, "already_answered"


class InvitationExpired(DomainError):
    status, code = 410, "expired"
