"""POST /ess/register: thin; validation and storage live in hub.services.subscribers."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.api.auth import HasScope
from hub.api.serializers import ErrorSerializer, RegisterRequestSerializer, RegistrationSerializer, SubscriberSerializer
from hub.services.subscribers import subscriber_register


class RegisterView(APIView):
    permission_classes = [HasScope]
    required_scope = "register"

    @extend_schema(
        summary="Register a webhook subscriber",
        description=(
            "Stores the subscriber and returns its signing `secret` and a subscriber API `key`, both shown this once."
        ),
        request=RegisterRequestSerializer,
        responses={201: RegistrationSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
        examples=[
            OpenApiExample(
                "webhook",
                value={"id": "md-mm1", "url": "https://mmis.example.gov/hook", "topics": ["drug.copay"], "throttle": 5},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        registration = subscriber_register(data=request.data)
        body = {
            **SubscriberSerializer(registration.subscriber).data,
            "secret": registration.secret,
            "key": registration.key,
        }
        return Response(body, status=status.HTTP_201_CREATED)
