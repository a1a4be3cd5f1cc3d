"""Every public name of the classic core in one namespace: ``from sigchat.proto.classic import api``.

For tests, scripts and interactive use; sigchat's own modules import from the
module that defines a name.
"""

from sigchat.proto.classic.integrity import *  # noqa: F403
from sigchat.proto.classic.policy import *  # noqa: F403
from sigchat.proto.classic.profile import *  # noqa: F403
from sigchat.proto.classic.sender import *  # noqa: F403
from sigchat.proto.classic.server import *  # noqa: F403
