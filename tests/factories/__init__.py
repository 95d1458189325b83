"""factory-boy factories for every model, one module per app; import them from `tests.factories`."""

from tests.factories.customers import *  # noqa: F403
from tests.factories.feedback import *  # noqa: F403
from tests.factories.leads import *  # noqa: F403
from tests.factories.marketing import *  # noqa: F403
from tests.factories.okr import *  # noqa: F403
from tests.factories.users import *  # noqa: F403
