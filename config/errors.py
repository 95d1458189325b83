class DomainError(Exception):
    """A business rule refused the request. Views map it to a form error or problem details."""

    status, code = 400, "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field
        if code:
            self.code = code


class Conflict(DomainError):
    status, code = 409, "conflict"


class ObjectChanged(Conflict):
    """Someone else changed the record between the caller's read and its write (found under the row lock)."""

    status, code = 409, "changed"


class StaleObject(DomainError):
    status, code = 412, "stale"
