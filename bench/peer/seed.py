"""Seed django-helpdesk for bench/run: a queue, a staff user, and N tickets by bulk_create.

    DJANGO_SETTINGS_MODULE=settings python seed.py N    (run in bench/peer with the peer's venv)
"""

import random
import sys
from datetime import timedelta

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from helpdesk.models import Queue, Ticket  # noqa: E402

target = int(sys.argv[1])
User = get_user_model()
if not User.objects.filter(username="agent").exists():
    User.objects.create_superuser("agent", "agent@example.com", "bench-password")
queue, _ = Queue.objects.get_or_create(slug="support", defaults={"title": "Support", "allow_public_submission": True})
have = Ticket.objects.count()
rng = random.Random(have)
now = timezone.now()
subjects = ("Order sync delay", "Offer import question", "Courier mapping", "Invoice numbering", "Stock mismatch")
while have < target:
    size = min(5000, target - have)
    rows = []
    for _ in range(size):
        created = now - timedelta(minutes=rng.randrange(0, 60 * 24 * 365))
        rows.append(Ticket(title=rng.choice(subjects), queue=queue, created=created, modified=created,
                           submitter_email="client@example.com", description="Generated demo ticket.",
                           status=rng.choice((1, 2, 3, 4, 5)), priority=rng.choice((1, 2, 3, 4, 5))))
    Ticket.objects.bulk_create(rows)
    have += size
with connection.cursor() as cursor:
    cursor.execute("ANALYZE")
print(f"{Ticket.objects.count()} tickets; queue {queue.id}")
