"""The symptom-checker API: no sign-in needed, rate-limited per client address, linked to the
patient's record when a signed-in patient calls it. Contract: docs/triage.md."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from carehub.triage import selectors, services
from carehub.triage.choices import Sex
from carehub.triage.models import TriageSession


def session_json(session: TriageSession) -> dict[str, Any]:
    """The session as the API returns it (question while in progress, result when done)."""
    from carehub.triage import engine
    from carehub.triage.kb import knowledge_base

    question = None
    if session.status == "in_progress" and session.question:
        kb = knowledge_base()
        finding = kb.findings[session.question]
        question = engine.question_json(
            engine.Question(
                finding=finding.id,
                text=finding.question,
                why=finding.why or engine.CATEGORY_WHY.get(finding.category, ""),
            )
        )
    return {
        "id": str(session.public_id),
        "status": session.status,
        "question": question,
        "result": session.result_data,
    }


class _Throttled(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]


SESSION_SCHEMA = inline_serializer(
    "TriageSession",
    {
        "id": serializers.UUIDField(),
        "status": serializers.ChoiceField(choices=["in_progress", "done"]),
        "question": serializers.DictField(allow_null=True),
        "result": serializers.DictField(allow_null=True),
    },
)


class FindingListView(_Throttled):
    throttle_scope = "triage_read"

    @extend_schema(
        summary="Every finding the symptom checker understands and may ask about",
        responses={200: OpenApiResponse(description="List of findings")},
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.findings_catalogue())


class SessionStartView(_Throttled):
    throttle_scope = "triage_start"

    @extend_schema(
        summary="Start a symptom check",
        request=inline_serializer(
            "TriageStart",
            {
                "age": serializers.FloatField(min_value=0, max_value=120),
                "sex": serializers.ChoiceField(choices=Sex.choices),
                "text": serializers.CharField(required=False, allow_blank=True),
                "findings": serializers.ListField(child=serializers.DictField(), required=False),
            },
        ),
        responses={201: SESSION_SCHEMA},
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        session = services.session_start(
            actor=request.user,
            age=data.get("age"),
            sex=data.get("sex"),
            text_input=data.get("text", ""),
            findings=data.get("findings", []),
        )
        return Response(session_json(session), status=status.HTTP_201_CREATED)


class SessionAnswerView(_Throttled):
    throttle_scope = "triage_answer"

    @extend_schema(
        summary="Answer the current question",
        request=inline_serializer(
            "TriageAnswer",
            {
                "finding": serializers.CharField(),
                "answer": serializers.ChoiceField(choices=["yes", "no", "unknown"]),
            },
        ),
        responses={200: SESSION_SCHEMA},
    )
    def post(self, request: Request, public_id: str) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        session = services.session_answer(
            actor=request.user,
            public_id=public_id,
            finding=data.get("finding"),
            answer=data.get("answer"),
        )
        return Response(session_json(session))


class SessionDetailView(_Throttled):
    throttle_scope = "triage_read"

    @extend_schema(summary="A symptom check's current state", responses={200: SESSION_SCHEMA})
    def get(self, request: Request, public_id: str) -> Response:
        return Response(
            session_json(selectors.session_get(actor=request.user, public_id=public_id))
        )
