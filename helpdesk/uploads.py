"""Checking uploaded files: size, and type judged by content rather than by name.

The stored name ends with an extension of the detected type (a GIF named `poly.html` is kept as
`poly.gif`), so neither a browser nor a desktop opening the download trusts the sender's name.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

import filetype

from helpdesk.errors import Invalid
from helpdesk.i18n import _
from helpdesk.text import one_line_error

# Types a client may attach, by what the bytes are.
ALLOWED_MIME = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "application/zip": "zip",
}
TEXT_EXTENSIONS = {"txt", "log", "csv", "json", "xml", "md"}
OFFICE_ZIP_EXTENSIONS = {"docx", "xlsx", "odt", "ods"}
# Other spellings of a detected type's extension that a name may keep.
SAME_TYPE_EXTENSIONS = {"image/jpeg": {"jpg", "jpeg"}}
NAME_MAX = 200
EXTENSION_MAX = 10


class UploadError(Invalid):
    """The file cannot be accepted; the message says why."""


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def safe_filename(name: str) -> str:
    """A display name without paths or control characters (never used as a path).

    A long name loses the end of its stem, never its extension.
    """
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").split("/")[-1]
    name = "".join(c for c in name if c.isprintable() and c not in '<>:"|?*').strip(" .")
    if len(name) > NAME_MAX:
        stem, extension = _split(name)
        if extension:
            name = stem[: NAME_MAX - len(extension) - 1].rstrip(" .") + "." + extension
        else:
            name = name[:NAME_MAX]
    return name or "attachment"


def _split(name: str) -> tuple[str, str]:
    """The stem and the extension (empty when there is none, or it is too long to be one)."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > EXTENSION_MAX:
        return name, ""
    return stem, extension


def _with_extension(name: str, extension: str, also: Collection[str] = ()) -> str:
    """`name` ending in `extension` (or one of `also`): a different one is replaced."""
    stem, current = _split(name)
    if current.lower() == extension or current.lower() in also:
        return name
    return stem[: NAME_MAX - len(extension) - 1] + "." + extension


def check_file(filename: str, data: bytes, max_bytes: int) -> CheckedFile:
    """Accept the file or raise UploadError with a message for the user."""
    name = safe_filename(filename)
    base = unicodedata.normalize("NFC", filename or "").replace("\\", "/").split("/")[-1]
    if one_line_error(base):
        raise UploadError(
            _("The name of the file %(name)s must be one line, without line breaks or other control "
              "characters.", name=name)
        )
    if not data:
        raise UploadError(_("The file %(name)s is empty.", name=name))
    if len(data) > max_bytes:
        raise UploadError(
            _("The file %(name)s is larger than %(mb)s MB.", name=name, mb=max_bytes // (1024 * 1024))
        )
    extension = _split(name)[1].lower()
    kind = filetype.guess(data)
    if kind is not None and kind.mime in ALLOWED_MIME:
        also = OFFICE_ZIP_EXTENSIONS if kind.mime == "application/zip" else SAME_TYPE_EXTENSIONS.get(kind.mime, ())
        return CheckedFile(_with_extension(name, ALLOWED_MIME[kind.mime], also), kind.mime, data)
    if kind is None and extension in TEXT_EXTENSIONS and _is_text(data):
        return CheckedFile(name, "text/plain; charset=utf-8", data)
    raise UploadError(
        _(
            "The file %(name)s is not of an allowed type (images, PDF, ZIP, office documents, "
            "plain text).",
            name=name,
        )
    )


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
