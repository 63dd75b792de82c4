"""The WSGI application gunicorn serves (Procfile): Django's handler with the ban check's short
path (moderation_site/handler.py)."""

import os

import django

from moderation_site.handler import Handler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moderation_site.settings")
django.setup(set_prefix=False)  # as django.core.wsgi.get_wsgi_application does
application = Handler()
