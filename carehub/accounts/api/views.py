from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from carehub.accounts import tokens
from carehub.accounts.api import serializers


class TokenThrottle(AnonRateThrottle):
    scope = "token"


class TokenObtainView(APIView):
    """Exchange email, password and (for staff) a one-time code for JWT access and refresh
    tokens."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenThrottle]

    @extend_schema(
        request=serializers.TokenObtainSerializer, responses={200: serializers.TokenPairSerializer}
    )
    def post(self, request):
        s = serializers.TokenObtainSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        pair = tokens.token_issue(request=request._request, **s.validated_data)
        return Response({"access": pair.access, "refresh": pair.refresh})


class TokenRefreshView(APIView):
    """Exchange a refresh token for a new pair (the old refresh token stops working)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenThrottle]

    @extend_schema(
        request=serializers.TokenRefreshSerializer, responses={200: serializers.TokenPairSerializer}
    )
    def post(self, request):
        s = serializers.TokenRefreshSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        pair = tokens.token_refresh(refresh=s.validated_data["refresh"])
        return Response({"access": pair.access, "refresh": pair.refresh})
