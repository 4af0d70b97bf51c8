"""Where uploaded files live: a small interface, a local folder by default.

The web tier keeps no other state, so with several web hosts a shared object store takes the
place of `LocalStorage` by implementing the same three methods.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import Flask, current_app


class Storage(Protocol):
    def save(self, data: bytes) -> str:
        """Store the bytes under a new generated key and return the key."""

    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the stored bytes; KeyError if there is none."""

    def delete(self, key: str) -> None:
        """Remove the stored bytes; no error if they are already gone."""


class LocalStorage:
    """Files under one folder outside any static folder, named by random keys."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not key or not all(c in "0123456789abcdef/" for c in key) or ".." in key:
            raise KeyError(key)
        return self.root / key

    def save(self, data: bytes) -> str:
        name = secrets.token_hex(16)
        key = f"{name[:2]}/{name[2:4]}/{name}"
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        return key

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError as exc:
            raise KeyError(key) from exc

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass


BACKENDS = {"local": lambda app: LocalStorage(app.config["UPLOAD_FOLDER"])}


def init_storage(app: Flask) -> None:
    backend = app.config["STORAGE_BACKEND"]
    if backend not in BACKENDS:
        raise RuntimeError(f"Unknown STORAGE_BACKEND {backend!r}; known: {', '.join(BACKENDS)}")
    app.extensions["opiekun.storage"] = BACKENDS[backend](app)


def storage() -> Storage:
    return current_app.extensions["opiekun.storage"]
