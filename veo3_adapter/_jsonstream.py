"""Reading JSON files in bounded memory: a journal line by line, a jobs file job by job.

A file of hundreds of megabytes is never held whole: memory follows its largest line (a
journal) or its largest value other than the streamed list (a jobs file), not its size.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from ._files import open_regular
from .errors import JobsFileError, UnsafeOutputError, Veo3Error

__all__ = [
    "STREAMED",
    "complete_lines",
    "end_of_last_line",
    "parse_file",
    "parse_streaming",
    "reading",
]

_CHUNK = 1 << 16
_WHITESPACE = " \t\n\r"
# The most a number parsed so far can be followed by and still go on: "e+" of "1e+9".
_LONGEST_NUMBER_TAIL = 2


class _Streamed:
    """Stands where a list was whose items went to the callback instead."""

    def __repr__(self) -> str:
        return "STREAMED"


STREAMED = _Streamed()


def complete_lines(handle: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """``(line number, line without its newline)`` for every line that ends with a newline.

    A last piece without one was cut off while it was being appended: it is not yielded.
    """
    for number, line in enumerate(handle, start=1):
        if line.endswith(b"\n"):
            yield number, line[:-1]


def end_of_last_line(fd: int) -> int:
    """The offset just past the file's last newline (0 if it has none), read backwards."""
    end = os.fstat(fd).st_size
    while end > 0:
        start = max(0, end - _CHUNK)
        found = os.pread(fd, end - start, start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


def parse_streaming(handle: BinaryIO, on_item: Callable[[object], None], *, key: str) -> object:
    """The JSON document in ``handle``, with one list handed over item by item.

    The list is the document itself, or the value of ``key`` in a document that is an object:
    each of its items goes to ``on_item`` in order, and ``STREAMED`` stands in its place in
    what is returned. Raises ``UnicodeDecodeError`` (not UTF-8), ``json.JSONDecodeError``
    (its line and column counted in the whole file), ``ValueError`` (an integer too long to
    read) and ``RecursionError`` (nesting too deep), as ``json.loads`` would.
    """
    return _Parser(handle, on_item, key).document()


@contextlib.contextmanager
def reading(path: Path) -> Iterator[BinaryIO | None]:
    """``path`` open for reading (``None`` when absent); read errors are ``JobsFileError``."""
    try:
        fd: int | None = open_regular(path, os.O_RDONLY)
    except FileNotFoundError:
        fd = None
    except UnsafeOutputError:
        raise
    except OSError as exc:
        raise JobsFileError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if fd is None:
        yield None
        return
    with os.fdopen(fd, "rb") as handle:
        try:
            yield handle
        except OSError as exc:
            if isinstance(exc, Veo3Error):
                raise
            raise JobsFileError(path, f"cannot be read ({exc.strerror or exc})") from exc


def parse_file(
    path: Path, handle: BinaryIO, on_item: Callable[[object], None], *, key: str = "jobs"
) -> object:
    """``parse_streaming``, its faults a ``JobsFileError`` naming ``path``."""
    try:
        return parse_streaming(handle, on_item, key=key)
    except UnicodeDecodeError as exc:
        raise JobsFileError(path, "is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise JobsFileError(
            path, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    except ValueError as exc:  # e.g. an integer longer than int_max_str_digits
        raise JobsFileError(path, f"is not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise JobsFileError(path, "is nested too deeply to be a jobs file") from exc


class _Parser:
    def __init__(self, handle: BinaryIO, on_item: Callable[[object], None], key: str) -> None:
        self._handle = handle
        self._on_item = on_item
        self._key = key
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._json = json.JSONDecoder()
        self._text = ""
        self._pos = 0
        self._eof = False
        # Where the text in hand starts in the file: lines before it, and the characters
        # since the last newline before it (for error positions in the whole file).
        self._lines_dropped = 0
        self._column_dropped = 0

    def document(self) -> object:
        first = self._peek()
        if first == "\ufeff":
            raise self._error("Unexpected UTF-8 BOM (decode using utf-8-sig)", self._pos)
        if first == "[":
            self._stream_list()
            result: object = STREAMED
        elif first == "{":
            result = self._object()
        else:
            result = self._value()
        if self._peek():
            raise self._error("Extra data", self._pos)
        return result

    def _object(self) -> dict[str, object]:
        members: dict[str, object] = {}
        self._pos += 1
        if self._peek() == "}":
            self._pos += 1
            return members
        while True:
            if self._peek() != '"':
                raise self._error("Expecting property name enclosed in double quotes", self._pos)
            name = self._value()
            if self._peek() != ":":
                raise self._error("Expecting ':' delimiter", self._pos)
            self._pos += 1
            if self._peek() == "[" and name == self._key:
                self._stream_list()
                members[str(name)] = STREAMED
            else:
                members[str(name)] = self._value()
            following = self._peek()
            self._pos += 1
            if following == "}":
                return members
            if following != ",":
                raise self._error("Expecting ',' delimiter", self._pos - 1)
            self._peek()

    def _stream_list(self) -> None:
        self._pos += 1
        if self._peek() == "]":
            self._pos += 1
            return
        while True:
            self._on_item(self._value())
            following = self._peek()
            self._pos += 1
            if following == "]":
                return
            if following != ",":
                raise self._error("Expecting ',' delimiter", self._pos - 1)
            self._peek()

    # -- the text in hand ------------------------------------------------------------------

    def _value(self) -> object:
        """One JSON value at the current position (reading on until it is whole)."""
        while True:
            try:
                value, end = self._json.raw_decode(self._text, self._pos)
            except json.JSONDecodeError as exc:
                if self._eof:
                    raise self._error(exc.msg, exc.pos) from None
                self._fill()
                continue
            # A number may go on in the next chunk: "-0" of "-0.5", "1" of "1e+9".
            if len(self._text) - end <= _LONGEST_NUMBER_TAIL and not self._eof:
                self._fill()
                continue
            self._pos = end
            return value

    def _peek(self) -> str:
        """The next character that is not whitespace ("" at the end of the file)."""
        while True:
            text = self._text
            while self._pos < len(text) and text[self._pos] in _WHITESPACE:
                self._pos += 1
            if self._pos < len(text) or self._eof:
                return text[self._pos] if self._pos < len(text) else ""
            self._fill()

    def _fill(self) -> None:
        """Drop what was parsed, then read at least as much again as is pending."""
        if self._pos:
            done = self._text[: self._pos]
            newlines = done.count("\n")
            self._lines_dropped += newlines
            if newlines:
                self._column_dropped = len(done) - done.rfind("\n") - 1
            else:
                self._column_dropped += len(done)
            self._text = self._text[self._pos :]
            self._pos = 0
        raw = self._handle.read(max(_CHUNK, len(self._text)))
        if not raw:
            self._eof = True
        self._text += self._decoder.decode(raw, final=self._eof)

    def _error(self, message: str, pos: int) -> json.JSONDecodeError:
        error = json.JSONDecodeError(message, self._text, pos)
        if error.lineno == 1:
            error.colno += self._column_dropped
        error.lineno += self._lines_dropped
        return error
