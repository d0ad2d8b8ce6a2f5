"""Upload file names: what is kept of the name a browser sent.

The name is only ever shown and offered back as the download's name; files are stored under
generated keys. It is still normalised, because it ends up in a Content-Disposition header and on
someone's disk: no path parts, no control or direction-override characters, no NUL (raw or as
`%00`), one extension only (`report.exe.pdf` becomes `report-exe.pdf`).
"""

from __future__ import annotations

import re
import unicodedata

MAX_STEM = 100
_UNSAFE = re.compile(r'[<>:"|?*;=\\/]+')
_SPACES = re.compile(r"\s+")
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])$", re.IGNORECASE)


class BadName(ValueError):
    """A file name that is refused outright (it holds a NUL, raw or percent-encoded)."""


def split_name(filename: str) -> tuple[str, str]:
    """The normalised stem and the lowercased extension (without its dot; '' when there is none)."""
    raw = filename or ""
    if "\x00" in raw or "%00" in raw:
        raise BadName("That file name is not allowed. Rename the file and try again.")
    name = unicodedata.normalize("NFC", raw)
    # Only the last path part: browsers on Windows used to send C:\Users\…\file.pdf.
    name = re.split(r"[/\\]", name)[-1]
    # Control characters (Cc) and invisible format characters (Cf: right-to-left overrides that
    # make "fdp.exe" read as "exe.pdf") go; so do characters no file system takes.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    name = _SPACES.sub(" ", _UNSAFE.sub("_", name)).strip()
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    # Every earlier dot is a second extension: "x.exe.pdf" must not look like an .exe anywhere.
    # No leading dot either (a hidden file on the downloader's disk).
    stem = re.sub(r"\.+", "-", stem).strip(" -_") or "document"
    if _WINDOWS_RESERVED.match(stem):
        stem = f"{stem}-file"
    return stem[:MAX_STEM].rstrip(" -_") or "document", extension.lower().strip()


def safe_name(stem: str, extension: str) -> str:
    return f"{stem}.{extension}" if extension else stem
