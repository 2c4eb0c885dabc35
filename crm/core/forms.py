"""Form pieces shared by every feature."""

from __future__ import annotations

from flask_wtf import FlaskForm


class EmptyForm(FlaskForm):
    """A CSRF-protected form with no fields, for POST-only buttons (revoke, delete, mark done ...)."""
