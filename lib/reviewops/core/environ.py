"""The process environment that child processes (notebook kernels) inherit, changed for a while.

``reviewops serve``, ``reviewops lab`` and ``reviewops run`` hand a kernel what it must know (the store's
URL, the server's signing secret, the run's folder) through the environment, and put the caller's
environment back afterwards. :func:`patched_environ` is that one mechanism.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

__all__ = ["patched_environ"]


@contextlib.contextmanager
def patched_environ(changes: Mapping[str, str | None]) -> Iterator[None]:
    """Set each variable of ``changes`` (``None`` removes it) for the ``with`` block, then restore every
    one of them as it was before, also when the block raises."""
    saved = {k: os.environ.get(k) for k in changes}
    try:
        for k, v in changes.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
