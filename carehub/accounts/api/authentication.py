from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from carehub.accounts.tokens import EPOCH_CLAIM


class EpochJWTAuthentication(JWTAuthentication):
    """JWT bearer auth that also rejects tokens issued before the user's current auth epoch."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        if validated_token.get(EPOCH_CLAIM) != user.auth_epoch:
            raise AuthenticationFailed("The token has been revoked.", code="token_revoked")
        return user


class EpochJWTScheme(SimpleJWTScheme):
    """Documents EpochJWTAuthentication as the bearer scheme in the OpenAPI schema."""

    target_class = "carehub.accounts.api.authentication.EpochJWTAuthentication"
    name = "jwtAuth"
