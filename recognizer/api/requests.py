"""What an API request carries: the image (multipart or raw body), top_k, explain, and whose history it joins."""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.csrf import CsrfViewMiddleware

from recognizer.custom.access import Requester
from recognizer.history.sessions import session_key_of
from recognizer.inference.errors import InvalidInput, UnsupportedImage, shown
from recognizer.inference.imaging import ACCEPTED_DESCRIPTION
from recognizer.inference.labels import NUM_CLASSES
from recognizer.inference.pipeline import DEFAULT_TOP_K, MAX_TOP_K
from recognizer.ops.uploads import multipart_upload, read_capped_body


def read_image_request(request: HttpRequest) -> tuple[bytes, QueryDict]:
    """The image bytes and the fields (query string, overridden by multipart fields) of a request."""
    content_type = request.content_type or ""
    if content_type == "multipart/form-data":
        data, file = multipart_upload(request)
        if file is None:
            names = sorted(set(data) | set(request.FILES))
            raise InvalidInput(
                "Expected an image file in the multipart field 'image'. Received fields: "
                f"{', '.join(shown(name, limit=40, quoted=False) for name in names[:10]) or 'none'}"
                f"{f' and {len(names) - 10:,} more' if len(names) > 10 else ''}"
            )
        fields = request.GET.copy()
        fields.update({name: data[name] for name in ("model", "top_k", "explain", "explain_class") if name in data})
        return file.read(), fields
    if content_type.startswith("image/"):
        return read_capped_body(request), request.GET
    received = f"Content-Type {shown(content_type)}" if content_type else "no Content-Type"
    raise UnsupportedImage(
        "Expected multipart/form-data with the file in 'image', or an image body with an image/* Content-Type "
        f"({ACCEPTED_DESCRIPTION}). Received {received}"
    )


def parse_top_k(fields: QueryDict) -> int:
    value = fields.get("top_k", "")
    if value == "":
        return DEFAULT_TOP_K
    top_k = int(value) if re.fullmatch(r"[0-9]{1,3}", value) else 0
    if not 1 <= top_k <= MAX_TOP_K:
        raise InvalidInput(f"Expected top_k to be a whole number from 1 to {MAX_TOP_K}. Received {shown(value)}")
    return top_k


def parse_explain(fields: QueryDict) -> tuple[bool, int | None]:
    """Whether to explain (`explain=true`) and which class (`explain_class`, default the top-1)."""
    value = fields.get("explain", "")
    if value not in ("", "true", "false", "1", "0"):
        raise InvalidInput(f"Expected explain to be true or false. Received {value[:40]!r}")
    wanted = fields.get("explain_class", "")
    if wanted == "":
        return value in ("true", "1"), None
    if not re.fullmatch(r"[0-9]{1,3}", wanted) or int(wanted) >= NUM_CLASSES:
        raise InvalidInput(
            f"Expected explain_class to be a class index from 0 to {NUM_CLASSES - 1}. Received {wanted[:40]!r}"
        )
    return True, int(wanted)


def page_session_key(request: HttpRequest) -> str:
    """The browser session of a request from our own page (same origin, its form's CSRF token), else ''.

    The enhanced upload form (static/recognizer/upload.js) posts here; its results belong in that
    browser's history like the plain form's. Any other client stays sessionless.
    """
    if not sent_by_our_page(request):
        return ""
    return session_key_of(request, create=True) or ""


def sent_by_our_page(request: HttpRequest) -> bool:
    """The request carries our own page's CSRF token (same origin): its browser session may act."""
    if "csrfmiddlewaretoken" not in request.POST and "HTTP_X_CSRFTOKEN" not in request.META:
        return False
    return CsrfViewMiddleware(lambda _: HttpResponse()).process_view(request, None, (), {}) is None


def api_requester(request: HttpRequest) -> Requester:
    """Who asks the API about custom models: the bearer token, and the browser session on reads, or on
    changes and classifications sent by our own page (so another site cannot act with a visitor's cookie)."""
    safe = request.method in ("GET", "HEAD")
    return Requester.from_request(request, session=safe or sent_by_our_page(request))


BOOLEANS = {"true": True, "1": True, "false": False, "0": False, "": False}


def parse_public(value: object) -> bool:
    """A custom model's `public`: a JSON boolean, or a form's true/false (1/0; absent is false)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in BOOLEANS:
        return BOOLEANS[value.lower()]
    raise InvalidInput(f"Expected public to be true or false. Received {shown(value, limit=40)}")
