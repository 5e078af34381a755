"""User-facing errors: one line that names the problem, never a traceback."""

from __future__ import annotations

import sys
from typing import Callable, NoReturn


class LmacError(Exception):
    """An error caused by bad input (file, key, value) rather than by a bug.

    Entry points print ``str(err)`` on one line and exit non-zero.
    """


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"lmac: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def run_guarded(main: Callable[[], int | None], code: int = 2) -> int:
    """Run ``main``; turn an :class:`LmacError` into a one-line message and exit code."""
    try:
        return int(main() or 0)
    except LmacError as err:
        fail(str(err), code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
