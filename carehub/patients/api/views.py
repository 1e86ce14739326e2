"""Patient REST API. Role first (403), then the record through a restricted selector (404),
then one service. Errors are problem JSON (carehub.core.api)."""

from __future__ import annotations

from collections.abc import Iterable

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from carehub.accounts.choices import Role
from carehub.patients import selectors, services
from carehub.patients.api.serializers import (
    PatientCreatedSerializer,
    PatientSerializer,
    PatientUpdateSerializer,
)
from carehub.patients.policies import ADMINISTRATIVE_ROLES, EDIT_ROLES, RECORD_ROLES, SEARCH_ROLES

PAGE_SIZE = 50
PROBLEM = OpenApiTypes.OBJECT


def require_role(request: Request, roles: Iterable[str]) -> None:
    if getattr(request.user, "role", "") not in roles:
        raise exceptions.PermissionDenied("Your role may not do this.")


def _view_name(request: Request) -> str:
    match = request._request.resolver_match
    return match.view_name if match else ""


PatientPage = inline_serializer(
    name="PatientPage",
    fields={
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": PatientSerializer(many=True),
    },
)


class PatientListView(APIView):
    """Search the patients you may see (staff), or register one (reception, administrators)."""

    @extend_schema(
        summary="Search patients",
        operation_id="patients_list",
        parameters=[
            OpenApiParameter(
                "q", str, description="Name, MRN, email or phone; every word must match."
            ),
            OpenApiParameter("page", int, description="Page number (50 per page)."),
        ],
        responses={200: PatientPage, 403: PROBLEM, 404: PROBLEM},
    )
    def get(self, request: Request) -> Response:
        require_role(request, SEARCH_ROLES)
        search = str(request.query_params.get("q", ""))[:100]
        page = selectors.patient_page(
            actor=request.user,
            search=search,
            page=request.query_params.get("page", 1),
            page_size=PAGE_SIZE,
            view=_view_name(request),
        )
        url = request.build_absolute_uri()
        return Response(
            {
                "count": page.paginator.count,
                "next": replace_query_param(url, "page", page.next_page_number())
                if page.has_next()
                else None,
                "previous": (
                    (
                        replace_query_param(url, "page", page.previous_page_number())
                        if page.previous_page_number() > 1
                        else remove_query_param(url, "page")
                    )
                    if page.has_previous()
                    else None
                ),
                "results": PatientSerializer(page.object_list, many=True).data,
            }
        )

    @extend_schema(
        summary="Register a patient",
        operation_id="patients_create",
        request=PatientSerializer,
        responses={201: PatientCreatedSerializer, 400: PROBLEM, 403: PROBLEM},
    )
    def post(self, request: Request) -> Response:
        require_role(request, ADMINISTRATIVE_ROLES)
        serializer = PatientSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        site = data.pop("site")
        registration = services.patient_register(actor=request.user, site=site, **data)
        patient = registration.patient
        body = {
            **PatientSerializer(patient).data,
            "possible_duplicates": len(registration.duplicates),
        }
        return Response(
            body,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"{request.path}{patient.public_id}/"},
        )


class PatientDetailView(APIView):
    """One patient record: a patient their own, clinicians those in their care (or under
    break-glass), reception and administrators any. Anything else is 404."""

    @extend_schema(
        summary="Read a patient",
        operation_id="patients_retrieve",
        responses={200: PatientSerializer, 403: PROBLEM, 404: PROBLEM},
    )
    def get(self, request: Request, public_id) -> Response:
        require_role(request, RECORD_ROLES)
        patient = selectors.patient_get(
            actor=request.user, public_id=public_id, view=_view_name(request)
        )
        return Response(PatientSerializer(patient).data)

    @extend_schema(
        summary="Change a patient's details",
        operation_id="patients_partial_update",
        description="Reception and administrators may change any demographic field; a patient only "
        "their contact details (phone, address, language, emergency contact, reminders) — "
        "any other field is refused with 403.",
        request=PatientUpdateSerializer,
        responses={200: PatientSerializer, 400: PROBLEM, 403: PROBLEM, 404: PROBLEM},
    )
    def patch(self, request: Request, public_id) -> Response:
        require_role(request, EDIT_ROLES)
        patient = selectors.patient_get(
            actor=request.user, public_id=public_id, action="change", view=_view_name(request)
        )
        serializer = PatientUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data:
            patient = services.patient_update(
                actor=request.user, patient=patient, **serializer.validated_data
            )
        return Response(PatientSerializer(patient).data)


class PatientMeView(APIView):
    """The signed-in patient's own record."""

    @extend_schema(
        summary="Read my own record",
        operation_id="patients_me_retrieve",
        responses={200: PatientSerializer, 403: PROBLEM, 404: PROBLEM},
    )
    def get(self, request: Request) -> Response:
        require_role(request, {Role.PATIENT})
        patient = selectors.patient_self_get(actor=request.user, view=_view_name(request))
        return Response(PatientSerializer(patient).data)
