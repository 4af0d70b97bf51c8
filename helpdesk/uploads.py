"""Checking uploaded files: size, and type judged by content rather than by name."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import filetype

from helpdesk.i18n import _

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


class UploadError(ValueError):
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
    """A display name without paths or control characters (never used as a path)."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").split("/")[-1]
    name = "".join(c for c in name if c.isprintable() and c not in '<>:"|?*').strip(" .")
    return name[:200] or "attachment"


def check_file(filename: str, data: bytes, max_bytes: int) -> CheckedFile:
    """Accept the file or raise UploadError with a message for the user."""
    name = safe_filename(filename)
    if not data:
        raise UploadError(_("The file %(name)s is empty.", name=name))
    if len(data) > max_bytes:
        raise UploadError(
            _("The file %(name)s is larger than %(mb)s MB.", name=name, mb=max_bytes // (1024 * 1024))
        )
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    kind = filetype.guess(data)
    if kind is not None and kind.mime in ALLOWED_MIME:
        if kind.mime == "application/zip" and extension in OFFICE_ZIP_EXTENSIONS:
            return CheckedFile(name, "application/zip", data)
        return CheckedFile(name, kind.mime, data)
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
