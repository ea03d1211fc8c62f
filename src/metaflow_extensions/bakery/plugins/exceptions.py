"""The errors Bakery shows through Metaflow's console, with messages shown as written."""

from __future__ import annotations

from metaflow.exception import MetaflowException


class BakeryMetaflowException(MetaflowException):
    """A MetaflowException whose message keeps its asterisks.

    Metaflow's console treats "*" as a highlight marker and drops it, which would turn a glob
    such as `registry/ml/*` or a version such as `pandas==2.*` into something else; the message
    shows U+2217 (asterisk operator) instead.
    """

    def __init__(self, msg=None, lineno=None):
        super().__init__(msg.replace("*", "\u2217") if msg else msg, lineno)
