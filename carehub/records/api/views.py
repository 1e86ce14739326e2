"""Health-record API under /api/v1/patients/<id>/..., with the same policies as the pages."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from carehub.records import selectors


def _entry(obj, *fields: str) -> dict:
    return {"id": str(obj.public_id), **{f: getattr(obj, f) for f in fields}}


class SummaryView(APIView):
    """The chart summary: problems, allergies, medications, latest vitals, recent encounters."""

    @extend_schema(
        summary="A patient's health summary",
        responses={200: inline_serializer("HealthSummary", {"patient": serializers.UUIDField()})},
    )
    def get(self, request: Request, public_id) -> Response:
        summary = selectors.patient_summary(
            actor=request.user, public_id=public_id, view="api:records-summary"
        )
        return Response(
            {
                "patient": str(summary.patient.public_id),
                "problems": [
                    _entry(c, "code", "display", "clinical_status", "onset_date")
                    for c in summary.problems
                ],
                "allergies": [
                    _entry(a, "substance", "criticality", "reaction") for a in summary.allergies
                ],
                "medications": [
                    _entry(
                        m,
                        "drug",
                        "strength",
                        "dose",
                        "route",
                        "times",
                        "start_date",
                        "duration_days",
                        "refills",
                    )
                    for m in summary.medications
                ],
                "vitals": [
                    {
                        "code": t.code,
                        "display": t.display,
                        "unit": t.unit,
                        "latest": {
                            "value": t.latest.value,
                            "at": t.latest.effective_at,
                            "interpretation": t.latest.interpretation,
                        },
                        "trend": [{"at": at, "value": v} for at, v in t.points],
                    }
                    for t in summary.vitals
                ],
                "encounters": [
                    {
                        **_entry(e, "mode", "started_at", "ended_at", "state"),
                        "practitioner": e.practitioner.display_name,
                    }
                    for e in summary.encounters
                ],
            }
        )
