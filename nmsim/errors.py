"""User-facing errors.

Anything a user can get wrong (a file, a field, a CLI argument) raises :class:`UserError`. The CLI prints
``nmsim: error: <where>: <message>`` on one line and exits with status 2; ``--debug`` shows the traceback.
"""
from __future__ import annotations


# Characters that end a line (str.splitlines): a key or value quoted from a user's file is escaped, so an error
# stays one line whatever the file holds.
_ONE_LINE = str.maketrans({c: repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})


class UserError(ValueError):
    """A problem with user input. ``where`` names the file and/or field (e.g. ``vit.yaml: layers``)."""

    def __init__(self, message: str, where: str | None = None):
        where = where.translate(_ONE_LINE) if isinstance(where, str) else where
        message = message.translate(_ONE_LINE) if isinstance(message, str) else message
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)


def field_path(source: str | None, *parts: object) -> str:
    """Join a file name and a field path: ``field_path('a.yaml', 'memory', 0, 'gbps') -> 'a.yaml: memory[0].gbps'``."""
    path = ""
    for p in parts:
        if isinstance(p, int):
            path += f"[{p}]"
        else:
            path += ("." if path else "") + str(p)
    if source and path:
        return f"{source}: {path}"
    return source or path
