"""Bearer API keys and the scope checks of SPEC §4: 401 before 403."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from hub.models import ApiKey
from hub.services.keys import api_key_authenticate


class KeyUser:
    """The request.user of an API-key request: not a Django user, never staff."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, key: ApiKey):
        self.key = key

    def __str__(self) -> str:
        return f"api-key:{self.key.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != self.keyword.lower().encode() or len(header) != 2:
            raise exceptions.AuthenticationFailed("use 'Authorization: Bearer <key>'")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("invalid API key") from None
        key = api_key_authenticate(token)
        if key is None:
            raise exceptions.AuthenticationFailed("invalid API key")
        return KeyUser(key), key

    def authenticate_header(self, request):
        return self.keyword


def request_key(request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None


def is_staff_session(request) -> bool:
    user = request.user
    return bool(user and not isinstance(user, KeyUser) and user.is_authenticated and user.is_staff)


class HasScope(permissions.BasePermission):
    """Key with the view's `required_scope`, or a staff session.

    A view with `subscriber_keys_allowed = False` also refuses keys bound to a
    subscriber: such a key may only replay or poll its own events (SPEC §4).
    """

    message = "this API key lacks the required scope"

    def has_permission(self, request, view):
        if request.user is None or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated("missing API key: send 'Authorization: Bearer <key>'")
        if is_staff_session(request):
            return True
        key = request_key(request)
        scope = view.required_scope
        if key is None or not key.has_scope(scope):
            self.message = f"this API key lacks the '{scope}' scope"
            return False
        if key.subscriber_id is not None and not getattr(view, "subscriber_keys_allowed", True):
            self.message = "a subscriber key may only replay or poll its own subscriber's events"
            return False
        return True


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Documents the bearer key in /ess/schema (drf-spectacular finds it by subclassing)."""

    target_class = "hub.api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key: Authorization: Bearer <key>."}
