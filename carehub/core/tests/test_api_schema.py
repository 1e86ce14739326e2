import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_openapi_schema_documents_the_endpoints_and_the_bearer_scheme(client):
    response = client.get(reverse("schema"), {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["securitySchemes"]["jwtAuth"]["scheme"] == "bearer"
    for path in (
        "/api/v1/auth/token/",
        "/api/v1/auth/token/refresh/",
        "/api/v1/patients/",
        "/api/v1/patients/{public_id}/",
        "/api/v1/patients/me/",
    ):
        assert path in schema["paths"], path


@pytest.mark.django_db
def test_api_docs_page_loads_its_assets_from_our_own_static_files(client):
    response = client.get(reverse("api-docs"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
