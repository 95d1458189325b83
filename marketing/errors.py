"""Marketing's refusals: DomainErrors naming their field, answered as RFC 9457 problems by the API and shown on
the form's field by the pages (config.errors)."""

from config.errors import Conflict, DomainError


class InvalidEvent(DomainError):
    """A customer event the contract does not accept: unknown type, unknown identity kind, a time in the future."""

    code = "invalid"


class ContentInUse(Conflict):
    """Content (or a variant) that messages, a journey step or an experiment refer to cannot be deleted: switch it
    off instead."""

    status, code = 409, "in_use"


class ExperimentRefused(Conflict):
    """An experiment change its state or its results do not allow: a second experiment for an item, a winner
    declared too early or not the best variant, a change to a finished experiment (marketing/experiments.py)."""

    status, code = 409, "conflict"


class InvalidTransition(Conflict):
    """A journey status change that does not apply (activating an active journey, pausing one that is not active):
    409 `invalid_transition`, as leads' and complaints' are."""

    status, code = 409, "invalid_transition"


class JourneyLoop(DomainError):
    """A journey whose steps would start it again, itself or through other active journeys (marketing/journeys.py
    check_loop): 400 naming the step."""

    code = "loop"


class InvalidOverlap(DomainError):
    """A channel overlap or exclusion list the limits refuse (marketing/overlap.py): an end not after the start or a
    period over two years (`end`), more than 20 or unknown channels (`channel`), an unknown kind or campaign."""

    code = "invalid"


class ChannelNotFound(DomainError):
    """An exclusion list for a channel code that names no channel: 404 naming `code`."""

    status, code = 404, "not_found"
