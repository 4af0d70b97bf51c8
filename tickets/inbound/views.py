"""The e-mail channel's pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("inbound", __name__)
