"""User-facing errors: one line that names the problem, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn


class LmacError(Exception):
    """An error caused by bad input (file, key, value) rather than by a bug.

    Entry points print ``str(err)`` on one line and exit non-zero.
    """


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"lmac: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def run_guarded(main: Callable[[], int | None], code: int = 2) -> int:
    """Run ``main``; turn an :class:`LmacError` into a one-line message and exit code.

    An ``OSError`` that no check foresaw (disk full, a file removed under the run, permissions
    changed mid-way) is the environment's, not a bug: it gets the same one line, naming the file.
    """
    try:
        return int(main() or 0)
    except LmacError as err:
        fail(str(err), code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except OSError as err:
        files = " -> ".join(str(f) for f in (err.filename, err.filename2) if f is not None)
        reason = err.strerror or (str(err).splitlines() or [type(err).__name__])[0]
        fail(f"{files}: {reason}" if files else f"{type(err).__name__}: {reason}", code)
