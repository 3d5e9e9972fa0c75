"""Downloading a ticket's file: for anyone who may see the ticket (internal files: staff)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponseNotAllowed
from django.http.response import HttpResponseBase

from buttress.desk.access import get_attachment_for
from buttress.desk.models import Attachment
from buttress.web.users import current_user


@login_required
def attachment_download(request: HttpRequest, attachment_id: int) -> HttpResponseBase:
    attachment = get_attachment_for(current_user(request), attachment_id)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return attachment_response(attachment)


def attachment_response(attachment: Attachment) -> HttpResponseBase:
    """The file as a download (the page and the API both serve files through this)."""
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    # Always a download, never rendered by the browser: an uploaded page cannot run here.
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
