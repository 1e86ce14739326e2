from rest_framework import serializers


class TokenObtainSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=254, help_text="The account's email address")
    password = serializers.CharField(max_length=1024, trim_whitespace=False)
    otp = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="TOTP or recovery code; required for staff",
    )


class TokenRefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
