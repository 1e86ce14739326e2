"""Every API error is RFC 7807 problem JSON: type, title, status, detail (and field errors)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import include, path
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.test import APIClient
from rest_framework.views import APIView

import config.urls
from carehub.core.exceptions import Conflict, Forbidden, NotFound, ServiceError, ValidationFailed

pytestmark = pytest.mark.django_db

# --- a URLconf of probe views next to the real one (used with pytest.mark.urls) --------------

RAISES = {
    "service": ServiceError("The request cannot be done."),
    "validation": ValidationFailed("Some details are wrong.", field_errors={"phone": ["Bad."]}),
    "conflict": Conflict("That slot was just taken.", slot="09:00"),
    "notfound": NotFound("No such appointment."),
    "forbidden": Forbidden("Not yours."),
    "http404": Http404("gone"),
    "django_validation": DjangoValidationError({"birth_date": ["In the future."]}),
}


class RaisingView(APIView):
    permission_classes = [AllowAny]

    def get(self, request, kind):
        raise RAISES[kind]


class Nobody(BasePermission):
    message = "Only nobody may do this."

    def has_permission(self, request, view):
        return False


class ForbiddenView(APIView):
    permission_classes = [Nobody]

    def get(self, request):
        raise AssertionError("never reached")


class ProtectedView(APIView):
    def get(self, request):
        raise AssertionError("never reached")


urlpatterns = [
    path("api/v1/_probe/raise/<str:kind>/", RaisingView.as_view()),
    path("api/v1/_probe/forbidden/", ForbiddenView.as_view()),
    path("api/v1/_probe/protected/", ProtectedView.as_view()),
    path("", include(config.urls.urlpatterns)),
]
handler404 = config.urls.handler404
handler500 = config.urls.handler500
handler403 = config.urls.handler403
PROBES = pytest.mark.urls(__name__)


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"]
    assert body["detail"]
    return body


@pytest.fixture
def api():
    return APIClient()


def test_a_malformed_body_is_400_with_field_errors(api):
    body = assert_problem(api.post("/api/v1/auth/token/", {}, format="json"), 400)

    assert body["title"] == "Validation failed"
    assert set(body["errors"]) == {"username", "password"}


def test_a_non_json_body_is_400_or_415_problem(api):
    response = api.post("/api/v1/auth/token/", "{not json", content_type="application/json")

    assert_problem(response, 400)


def test_bad_credentials_are_401_with_a_generic_message(api):
    body = assert_problem(
        api.post("/api/v1/auth/token/", {"username": "x@example.org", "password": "nope"}), 401
    )

    assert body["detail"] == "Invalid credentials."


@PROBES
def test_an_endpoint_that_needs_a_user_answers_401_with_a_bearer_challenge(api):
    response = api.get("/api/v1/_probe/protected/")

    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


@PROBES
def test_a_garbage_bearer_token_is_401(api):
    api.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")

    assert_problem(api.get("/api/v1/_probe/protected/"), 401)


@PROBES
def test_a_denied_permission_is_403(api):
    from carehub.core.testing.contracts import client_for
    from carehub.patients.tests.factories import make_patient_user

    client = client_for(make_patient_user().user, api=True)

    body = assert_problem(client.get("/api/v1/_probe/forbidden/"), 403)
    assert body["detail"] == "Only nobody may do this."


def test_an_unknown_api_url_is_404_problem_json(api):
    body = assert_problem(api.get("/api/v1/nope/"), 404)

    assert "request_id" in body


def test_an_unknown_page_url_stays_an_html_page(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_wrong_method_is_405(api):
    body = assert_problem(api.get("/api/v1/auth/token/"), 405)

    assert "GET" in body["detail"]


def test_throttling_is_429_with_retry_after(api, monkeypatch):
    from carehub.accounts.api.views import TokenThrottle

    monkeypatch.setattr(TokenThrottle, "THROTTLE_RATES", {"token": "2/min"})
    data = {"username": "x@example.org", "password": "nope"}
    for _ in range(2):
        assert api.post("/api/v1/auth/token/", data).status_code == 401

    response = api.post("/api/v1/auth/token/", data)

    assert_problem(response, 429)
    assert int(response["Retry-After"]) > 0


@PROBES
@pytest.mark.parametrize(
    ("kind", "status", "title"),
    [
        ("service", 400, "Invalid request"),
        ("validation", 400, "Validation failed"),
        ("conflict", 409, "Conflict"),
        ("notfound", 404, "Not found"),
        ("forbidden", 403, "Forbidden"),
    ],
)
def test_a_service_error_maps_to_its_status(api, kind, status, title):
    body = assert_problem(api.get(f"/api/v1/_probe/raise/{kind}/"), status)

    assert body["title"] == title
    assert body["detail"] == RAISES[kind].message


@PROBES
def test_service_error_field_errors_and_extras_are_kept(api):
    assert assert_problem(api.get("/api/v1/_probe/raise/validation/"), 400)["errors"] == {
        "phone": ["Bad."]
    }
    assert assert_problem(api.get("/api/v1/_probe/raise/conflict/"), 409)["slot"] == "09:00"


@PROBES
def test_django_errors_raised_in_a_view_become_problems_too(api):
    assert_problem(api.get("/api/v1/_probe/raise/http404/"), 404)
    body = assert_problem(api.get("/api/v1/_probe/raise/django_validation/"), 400)
    assert body["errors"] == {"birth_date": ["In the future."]}


def test_problem_responses_carry_the_request_id_header(api):
    response = api.get("/api/v1/nope/", HTTP_X_REQUEST_ID="abc123")

    assert response["X-Request-ID"] == "abc123"
    assert response.json()["request_id"] == "abc123"
