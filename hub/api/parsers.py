"""A JSON parser that answers bad bodies with 4xx, never 500.

Not a JSONParser subclass on purpose: DRF reads `request.body` for those,
which raises Django's RequestDataTooBig (a bare 400) before the parser runs.
This one reads the stream itself, so the upload limit is enforced here
(413), and pathological nesting (RecursionError) is a 400. Numbers must stay
finite: NaN, Infinity and 1e400 (which Python reads as infinity) would be
stored as text no JSON parser accepts.
"""

import json
import math

from django.conf import settings
from rest_framework import parsers, renderers
from rest_framework.exceptions import ParseError

from hub.api.errors import RequestTooLarge


class StrictJSONParser(parsers.BaseParser):
    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        if length and length.isdigit() and int(length) > limit:
            raise RequestTooLarge(f"request body is {length} bytes; the limit is {limit}")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"request body exceeds {limit} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"body is not UTF-8: {exc}") from None
        try:
            return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        except RecursionError:
            raise ParseError("JSON is nested too deeply") from None
        except ValueError as exc:
            raise ParseError(f"malformed JSON: {exc}") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range for a JSON number")
    return value
