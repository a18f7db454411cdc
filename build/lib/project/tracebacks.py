"""Point at the user's file and line that raised, without printing a traceback."""

from __future__ import annotations

import os
import traceback

_LIBRARY_MARKERS = (f"{os.sep}site-packages{os.sep}", f"{os.sep}lib{os.sep}python", "<frozen ")


def where(exc: BaseException) -> str:
    """`path/to/file.py, line N` of the innermost frame outside libraries."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{display_path(exc.filename)}, line {exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not is_library(f.filename)]
    if not frames:
        return "unknown location"
    frame = frames[-1]
    return f"{display_path(frame.filename)}, line {frame.lineno}"


def display_path(path: str | os.PathLike[str]) -> str:
    """A path relative to the working directory when it lies below it."""
    path = os.path.abspath(path)
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


def is_library(filename: str) -> bool:
    return any(marker in filename for marker in _LIBRARY_MARKERS) or filename.startswith("<")
