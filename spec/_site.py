"""Where a spec object was written: the ``file:line`` of the call that built it.

Private helper of :mod:`intervm.spec.syntax` and :mod:`intervm.spec.protocol`.
"""

from __future__ import annotations

import os
import sys

_SKIP = frozenset({"__post_init__", "_record_site"})


def creation_site() -> str:
    """``file:line`` of the code that called the constructor running this.

    Called from a dataclass's ``__post_init__`` (directly or through a helper
    called ``_record_site``): skips those frames and the generated ``__init__``
    (file ``<string>``), then reports the caller. Code
    typed at a prompt or in a doctest (file ``<...>``) has no useful site: "".
    """
    f = sys._getframe(1)
    while f is not None and (f.f_code.co_name in _SKIP or f.f_code.co_filename == "<string>"):
        f = f.f_back  # type: ignore[assignment]
    if f is None or f.f_code.co_filename.startswith("<"):
        return ""
    return f"{f.f_code.co_filename}:{f.f_lineno}"


def show_site(site: str) -> str:
    """``site`` relative to the working directory when it lies below it."""
    if not os.path.isabs(site):
        return site
    try:
        rel = os.path.relpath(site)
    except ValueError:  # another drive (Windows)
        return site
    return site if rel.startswith("..") else rel
