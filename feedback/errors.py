from config.errors import Conflict, DomainError


class InvalidTransition(Conflict):
    code = "invalid_transition"


class ResolutionRequired(DomainError):
    code = "required"


class AlreadyAnswered(DomainError):
    status, code = 410, "already_answered"


class InvitationExpired(DomainError):
    status, code = 410, "expired"


class NoEmail(DomainError):
    code = "no_email"


class AlreadyDone(Conflict):
    code = "already_done"
