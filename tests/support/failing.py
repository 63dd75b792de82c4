"""A view and an RQ job that fail the worst way there is: holding a vendor secret in their local
variables, logging it, and raising an exception whose message carries it. Tests only; the view's
URL exists only under `urlpatterns` below (`@pytest.mark.urls("tests.support.failing")`)."""

import logging

from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from moderation.models import VendorApp

log = logging.getLogger("moderation.careless")


def _fail(app_id: int):
    app = VendorApp.objects.get(pk=app_id)
    secret = app.secret
    callback_secret = app.callback_secret
    connection = app.connection()
    material = f"{connection.app_id}nonce{secret}1700000000"  # as ZEGO's signature is made
    headers = {"Authorization": f"Bearer {secret}", "X-Note": f"signed with {callback_secret}"}
    log.info("calling the vendor with %s and %s (%s)", secret, material, headers)
    raise RuntimeError(f"the vendor refused {secret} for {connection.app_id}")


@csrf_exempt  # posted to through Django's WSGI handler, as gunicorn does, without a CSRF token
def fail_holding_a_secret(request, app_id: int):
    _fail(app_id)


def job_failing_holding_a_secret(app_id: int):
    _fail(app_id)


urlpatterns = [
    path("test-only/fail/<int:app_id>/", fail_holding_a_secret),
    path("", include("moderation_site.urls")),
]
