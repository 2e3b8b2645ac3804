"""Local stand-ins for the identity providers, used by the devstack (never deployed).

``SANDBOXES`` is every provider sandbox the local stack can start, one line per provider; each
fulfils ``base.Sandbox`` (its name, title, default port, API path, flags and credentials).
"""

from devstack.sandboxes.base import Sandbox
from devstack.sandboxes.datakeen import DatakeenSandbox
from devstack.sandboxes.faceki import FacekiSandbox
from devstack.sandboxes.jekimo import JekimoSandbox
from devstack.sandboxes.okid import OkidSandbox

__all__ = ["SANDBOXES", "Sandbox"]

SANDBOXES: tuple[type[Sandbox], ...] = (
    JekimoSandbox,
    OkidSandbox,
    DatakeenSandbox,
    FacekiSandbox,
)
