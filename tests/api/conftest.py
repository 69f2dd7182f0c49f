"""The API's test helpers: a token for a user, and a client that sends it and validates every response against the
OpenAPI document (issue 16, acceptance 1: the status is declared for the operation, the body matches its schema)."""

from __future__ import annotations

import json

import jsonschema_rs
import pytest

from psa.extensions import db


def token_for(app, user, name: str = "tests", expires_at=None) -> str:
    """A new token's secret for `user` (made by the service, as the UI and the CLI do)."""
    from psa.api.services import create_token
    from psa.auth.models import User

    with app.app_context():
        owner = db.session.get(User, user.id)
        return create_token(owner, owner, name, expires_at=expires_at)[1]


class DocumentMismatch(AssertionError):
    pass


def check_against_document(app, document: dict, method: str, path: str, response) -> None:
    """The response's status is declared for the operation `method path` and its JSON body fits that schema."""
    adapter = app.url_map.bind("localhost")
    rule, _ = adapter.match(path.split("?")[0], method=method, return_rule=True)
    doc_path = rule.rule
    for converter in ("int:", "string:", "path:"):
        doc_path = doc_path.replace("<" + converter, "<")
    doc_path = doc_path.replace("<", "{").replace(">", "}")
    operation = document["paths"].get(doc_path, {}).get(method.lower())
    if operation is None:
        raise DocumentMismatch(f"{method} {doc_path} is not in the document")
    declared = operation.get("responses", {})
    entry = declared.get(str(response.status_code)) or declared.get("default")
    if entry is None:
        raise DocumentMismatch(f"{method} {doc_path} answered {response.status_code}, not declared "
                               f"({sorted(declared)}): {response.get_data(as_text=True)[:500]}")
    content = entry.get("content", {})
    if not content:
        return
    media = content.get("application/json")
    if media is None:
        return
    assert response.mimetype == "application/json", (method, path, response.mimetype)
    schema = {**media["schema"], "components": document.get("components", {})}
    body = json.loads(response.get_data(as_text=True))
    errors = [str(error) for error in jsonschema_rs.validator_for(schema).iter_errors(body)]
    if errors:
        raise DocumentMismatch(f"{method} {path} → {response.status_code}: {errors[:3]}")


class ApiClient:
    """The test client with a bearer token; every answer is checked against the document."""

    def __init__(self, app, client, secret: str | None):
        self.app, self.client, self.secret = app, client, secret
        self._document = None

    @property
    def document(self) -> dict:
        if self._document is None:
            self._document = self.client.get("/api/v1/openapi.json").get_json()
        return self._document

    def open(self, method: str, path: str, *, json_body=None, headers: dict | None = None, check: bool = True,
             **kwargs):
        headers = dict(headers or {})
        if self.secret:
            headers.setdefault("Authorization", f"Bearer {self.secret}")
        response = self.client.open(path, method=method, json=json_body, headers=headers, **kwargs)
        if check:
            check_against_document(self.app, self.document, method, path, response)
        return response

    def get(self, path, **kwargs):
        return self.open("GET", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.open("POST", path, json_body=json, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.open("PATCH", path, json_body=json, **kwargs)

    def put(self, path, json=None, **kwargs):
        return self.open("PUT", path, json_body=json, **kwargs)

    def delete(self, path, **kwargs):
        return self.open("DELETE", path, **kwargs)


@pytest.fixture
def api(app, client):
    """api(user) → an ApiClient acting with a new token of `user` (api(None): no token)."""

    def make(user=None, **token_args):
        return ApiClient(app, client, token_for(app, user, **token_args) if user is not None else None)

    return make
