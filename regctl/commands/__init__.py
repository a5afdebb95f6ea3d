"""regctl's commands: the supctl path grammar (paths.py) and brightbox-style nouns.

Command modules are imported for ``--help``; what they need to do their work (the HTTP
client, the config file, output) is imported when a command runs.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from regctl.options import Format, Globals

if TYPE_CHECKING:
    from regctl.client import Api


def connect(options: Globals) -> Api:
    """A client for the server and credentials these options resolve to."""
    from regctl.client import Api
    from regctl.config import resolve

    return Api(resolve(options.server))


def noun_format(options: Globals) -> Format:
    """The noun rule: ``-o`` if given, else a table on a terminal and JSON otherwise."""
    if options.format is not None:
        return options.format
    return Format.table if sys.stdout.isatty() else Format.json
