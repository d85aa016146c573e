"""The portal's URLs plus ``/bench/bare/``: a view that needs a signed-in user (the portal's
LoginRequiredMiddleware, as for every page) and answers a few bytes, with no template and no query of
its own. It measures what every authenticated request costs before its page does anything."""

from django.http import HttpResponse
from django.urls import include, path

from portal.urls import handler400, handler403, handler404, handler500  # noqa: F401


def bare(request):
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [
    path("bench/bare/", bare, name="bench_bare"),
    path("", include("portal.urls")),
]
