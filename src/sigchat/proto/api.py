"""Every public name of the native core in one namespace: ``from sigchat.proto import api``.

For tests, scripts and interactive use. sigchat's own modules import from the
module that defines a name (a plain sender must not load the server side).
"""

from sigchat.proto.base import *  # noqa: F403
from sigchat.proto.events import *  # noqa: F403
from sigchat.proto.sender import *  # noqa: F403
from sigchat.proto.server import WARM_UP_CLIENTS, Server  # noqa: F401
from sigchat.proto.wire import *  # noqa: F403
