from django.utils.translation import gettext_lazy as _

from config.errors import Conflict, DomainError


class InvalidIdentity(DomainError):
    code = "invalid_identity"


class MergeRefused(Conflict):
    code = "merge_refused"


class UndoRefused(Conflict):
    code = "undo_refused"


class ImportRefused(DomainError):
    code = "import_refused"


MERGED_CUSTOMER = _("This customer was merged into another one.")
