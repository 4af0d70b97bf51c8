"""WSGI entry of the bench project: `gunicorn wsgi:application` in bench/peer."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
application = get_wsgi_application()
