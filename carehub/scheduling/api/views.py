"""Scheduling REST API: practitioners with their next free slot, free slots, and appointments
(book, list, reschedule, cancel, status). Role first (403), then the object through a
restricted selector (404), then one service. Errors are problem JSON; a slot that cannot be
booked is 409 with `code` and `alternatives` (the next free slots of that practitioner)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from carehub.accounts.choices import Role
from carehub.directory import selectors as directory
from carehub.patients import selectors as patients
from carehub.patients.api.views import require_role
from carehub.scheduling import selectors, services
from carehub.scheduling.api.serializers import (
    AppointmentSerializer,
    BookSerializer,
    CancelSerializer,
    PractitionerSlotSerializer,
    RescheduleSerializer,
    SlotQuerySerializer,
    SlotSerializer,
    TransitionSerializer,
    appointment_json,
)
from carehub.scheduling.choices import Mode, Status
from carehub.scheduling.policies import BOOKING_ROLES, STAFF_ROLES

PROBLEM = OpenApiTypes.OBJECT
MAX_SLOT_DAYS = 62
SEE_ROLES = BOOKING_ROLES | STAFF_ROLES


def _view_name(request: Request) -> str:
    match = request._request.resolver_match
    return match.view_name if match else ""


def _mode(request: Request) -> str | None:
    mode = request.query_params.get("mode") or None
    if mode is not None and mode not in Mode.values:
        raise exceptions.ValidationError({"mode": ["Choose in_person or video."]})
    return mode


def _own_patient_id(request: Request) -> int | None:
    if getattr(request.user, "role", "") != Role.PATIENT:
        return None
    own = patients.patient_of_user(user=request.user)
    return own.pk if own else None


class PractitionerSearchView(APIView):
    """Practitioners you can book, each with their next free slot (soonest first)."""

    @extend_schema(
        summary="Find practitioners with their next free slot",
        operation_id="practitioners_search",
        parameters=[
            OpenApiParameter("specialty", str, description="Specialty code, e.g. cardiology"),
            OpenApiParameter("site", str, description="Public id of a site"),
            OpenApiParameter("mode", str, enum=Mode.values),
            OpenApiParameter("language", str, description="ISO 639-1 code the practitioner speaks"),
        ],
        responses={200: PractitionerSlotSerializer(many=True), 400: PROBLEM, 403: PROBLEM},
    )
    def get(self, request: Request) -> Response:
        require_role(request, SEE_ROLES)
        site = None
        if request.query_params.get("site"):
            try:
                site = directory.site_get(
                    actor=request.user, public_id=request.query_params["site"]
                )
            except Exception as exc:
                raise exceptions.ValidationError({"site": ["No such site."]}) from exc
        specialty = str(request.query_params.get("specialty", ""))[:64]
        options = selectors.practitioner_search(
            actor=request.user,
            specialty=specialty,
            site=site,
            mode=_mode(request),
            language=str(request.query_params.get("language", ""))[:8],
            for_patient_id=_own_patient_id(request),
        )
        return Response(PractitionerSlotSerializer(options, many=True).data)


class SlotListView(APIView):
    """Free slots of one practitioner between two dates (at most 62 days)."""

    @extend_schema(
        summary="Free slots of a practitioner",
        operation_id="practitioners_slots",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, required=True),
            OpenApiParameter("to", OpenApiTypes.DATE, required=True, description="inclusive"),
            OpenApiParameter("mode", str, enum=Mode.values),
        ],
        responses={200: SlotSerializer(many=True), 400: PROBLEM, 403: PROBLEM, 404: PROBLEM},
    )
    def get(self, request: Request, public_id) -> Response:
        require_role(request, SEE_ROLES)
        practitioner = directory.practitioner_get(actor=request.user, public_id=public_id)
        query = SlotQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        first: date = query.validated_data["from"]
        last: date = query.validated_data["to"]
        if last < first:
            raise exceptions.ValidationError({"to": ["Must be on or after 'from'."]})
        if (last - first).days >= MAX_SLOT_DAYS:
            raise exceptions.ValidationError({"to": [f"At most {MAX_SLOT_DAYS} days at a time."]})
        # Dates are read in UTC, widened by 14 h each side and cut to the site-local dates below.
        start = datetime.combine(first, time.min, tzinfo=UTC) - timedelta(hours=14)
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC) + timedelta(hours=14)
        mode = _mode(request)
        found = selectors.free_slots(
            practitioner_ids=[practitioner.pk],
            start=start,
            end=end,
            mode=mode,
            for_patient_id=_own_patient_id(request),
            staff=getattr(request.user, "role", "") != Role.PATIENT,
        )[practitioner.pk]
        sites = {s.pk: s for s in practitioner.sites.all()}
        rows = []
        for slot in found:
            site = sites.get(slot.site_id) or directory.site_by_id(site_id=slot.site_id)
            local = slot.start.astimezone(selectors.engine.zone(site.timezone))
            if not first <= local.date() <= last:
                continue
            start_text = local.isoformat()
            end_text = slot.end.astimezone(local.tzinfo).isoformat()
            site_id = str(site.public_id)
            for slot_mode in (mode,) if mode else slot.modes:
                rows.append(
                    {"start": start_text, "end": end_text, "mode": slot_mode, "site": site_id}
                )
        return Response(rows)


class AppointmentListView(APIView):
    """Your appointments (patients), the ones you hold or may see (clinicians), or all
    (reception, administrators); or book one."""

    @extend_schema(
        summary="List appointments",
        operation_id="appointments_list",
        parameters=[
            OpenApiParameter("status", str, enum=Status.values, many=True),
            OpenApiParameter("from", OpenApiTypes.DATE),
            OpenApiParameter("to", OpenApiTypes.DATE, description="inclusive"),
            OpenApiParameter("practitioner", str, description="Public id of a practitioner"),
        ],
        responses={200: AppointmentSerializer(many=True), 400: PROBLEM, 403: PROBLEM},
    )
    def get(self, request: Request) -> Response:
        require_role(request, SEE_ROLES)
        statuses = request.query_params.getlist("status")
        bad = [s for s in statuses if s not in Status.values]
        if bad:
            raise exceptions.ValidationError({"status": [f"Unknown status: {bad[0][:20]}"]})
        query = SlotQuerySerializer(data=request.query_params, partial=True)
        query.is_valid(raise_exception=True)
        first, last = query.validated_data.get("from"), query.validated_data.get("to")
        practitioner_id = None
        if request.query_params.get("practitioner"):
            practitioner_id = directory.practitioner_get(
                actor=request.user, public_id=request.query_params["practitioner"]
            ).pk
        rows = selectors.appointment_list(
            actor=request.user,
            view=_view_name(request),
            status=statuses,
            start=datetime.combine(first, time.min, tzinfo=UTC) if first else None,
            end=datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC) if last else None,
            practitioner_id=practitioner_id,
        )
        return Response([appointment_json(a, request.user) for a in rows])

    @extend_schema(
        summary="Book an appointment",
        operation_id="appointments_book",
        request=BookSerializer,
        responses={
            201: AppointmentSerializer,
            400: PROBLEM,
            403: PROBLEM,
            404: PROBLEM,
            409: PROBLEM,
        },
    )
    def post(self, request: Request) -> Response:
        require_role(request, BOOKING_ROLES | STAFF_ROLES)
        body = BookSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        practitioner = directory.practitioner_get(
            actor=request.user, public_id=data["practitioner"]
        )
        appointment = services.appointment_book(
            actor=request.user,
            practitioner=practitioner,
            start=data["start"],
            mode=data["mode"],
            reason=data.get("reason", ""),
            patient_public_id=data.get("patient"),
        )
        return Response(appointment_json(appointment, request.user), status=status.HTTP_201_CREATED)


class AppointmentDetailView(APIView):
    @extend_schema(
        summary="One appointment",
        operation_id="appointments_get",
        responses={200: AppointmentSerializer, 403: PROBLEM, 404: PROBLEM},
    )
    def get(self, request: Request, public_id) -> Response:
        require_role(request, SEE_ROLES)
        appointment = selectors.appointment_get(
            actor=request.user, public_id=public_id, view=_view_name(request)
        )
        return Response(appointment_json(appointment, request.user))


ACTION_RESPONSES = {
    200: AppointmentSerializer,
    400: PROBLEM,
    403: PROBLEM,
    404: PROBLEM,
    409: PROBLEM,
}


def _act(request: Request, public_id, roles, body_class, act) -> Response:
    """The shape of every action on one appointment: role (403), body (400), the appointment
    the actor may change (404, logged as an appointments read since the answer shows it), one
    service call (its refusals are problem JSON), the appointment as it now is."""
    require_role(request, roles)
    body = body_class(data=request.data)
    body.is_valid(raise_exception=True)
    appointment = selectors.appointment_get(
        actor=request.user, public_id=public_id, action="change", view=_view_name(request)
    )
    act(appointment, body.validated_data)
    return Response(appointment_json(appointment, request.user))


class RescheduleView(APIView):
    @extend_schema(
        summary="Move an appointment to another free slot of the same practitioner",
        operation_id="appointments_reschedule",
        request=RescheduleSerializer,
        responses=ACTION_RESPONSES,
    )
    def post(self, request: Request, public_id) -> Response:
        return _act(
            request,
            public_id,
            BOOKING_ROLES | STAFF_ROLES,
            RescheduleSerializer,
            lambda appointment, data: services.appointment_reschedule(
                actor=request.user,
                appointment=appointment,
                start=data["start"],
                mode=data.get("mode"),
            ),
        )


class CancelView(APIView):
    @extend_schema(
        summary="Cancel an appointment",
        operation_id="appointments_cancel",
        request=CancelSerializer,
        responses=ACTION_RESPONSES,
    )
    def post(self, request: Request, public_id) -> Response:
        return _act(
            request,
            public_id,
            BOOKING_ROLES | STAFF_ROLES,
            CancelSerializer,
            lambda appointment, data: services.appointment_cancel(
                actor=request.user, appointment=appointment, reason=data["reason"]
            ),
        )


class TransitionView(APIView):
    @extend_schema(
        summary="Check in, start, complete or mark a no-show (staff)",
        operation_id="appointments_status",
        request=TransitionSerializer,
        responses=ACTION_RESPONSES,
    )
    def post(self, request: Request, public_id) -> Response:
        return _act(
            request,
            public_id,
            STAFF_ROLES,
            TransitionSerializer,
            lambda appointment, data: services.appointment_transition(
                actor=request.user, appointment=appointment, status=data["status"]
            ),
        )
