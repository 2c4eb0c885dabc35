"""The integrators' API reference, rendered on the server from the OpenAPI document."""

from __future__ import annotations

from crm.api.openapi import build_document


def test_the_reference_lists_every_operation_and_schema_without_logging_in(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    document = build_document()
    for item in document["paths"].values():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                operation_id = item[method].get("operationId")
                assert f'id="op-{operation_id}"' in html, operation_id
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name}"' in html, name
    assert "/api/v1/openapi.json" in html
    assert "<code>Authorization: Bearer TOKEN</code>" in html  # the document's Markdown code spans


def test_the_reference_escapes_the_document(app, monkeypatch):
    from crm.api import docs

    assert str(docs.inline_markup("Use `<b>` and <script>x</script>")) == (
        "<p>Use <code>&lt;b&gt;</code> and &lt;script&gt;x&lt;/script&gt;</p>"
    )
