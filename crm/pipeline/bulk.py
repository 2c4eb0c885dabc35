"""The enterprise list's "move stage" bulk action: it opens the pipeline's bulk-move form for the selection."""

from __future__ import annotations

from flask import make_response, render_template, url_for

from crm.enterprises.bulk import BulkOutcome, BulkRequest
from crm.pipeline import forms, services


def move_stage(request: BulkRequest) -> BulkOutcome:
    stages = services.ordered_stages()
    form = forms.BulkMoveForm(formdata=None, stages=stages)
    form.next.data = url_for("enterprises.list_enterprises")
    page = render_template("pipeline/bulk_move.html", form=form, ids=request.ids, error=None, back_url=form.next.data)
    return BulkOutcome(message="", response=make_response(page))
