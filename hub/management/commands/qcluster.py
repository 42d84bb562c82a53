"""`python manage.py qcluster`: django-q2's cluster plus the hub's own processes.

Beside django-q2 (scheduled and asynchronous tasks) it starts:
- ESS_DISPATCHERS delivery dispatchers (hub.dispatch.dispatcher.run), which
  claim due deliveries in batches and send them;
- one subscriber-file watcher (hub.subscriber_files.watch.run), which keeps
  the database in step with ESS_SUBSCRIBERS_DIR. Several may run on several
  machines; a database lock lets only one of them act at a time.

Children die with this process (PR_SET_PDEATHSIG), so a SIGKILLed worker
leaves no orphan sending: its leased deliveries are claimed again later.
"""

import logging
import multiprocessing
import signal

from django.conf import settings
from django_q.management.commands.qcluster import Command as DjangoQCommand

log = logging.getLogger("hub.qcluster")


def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _child(target_path: str, name: str) -> None:
    _die_with_parent()
    import django

    django.setup()
    from django.utils.module_loading import import_string

    multiprocessing.current_process().name = name
    import_string(target_path)()


class Command(DjangoQCommand):
    help = "Run the django-q2 cluster plus the hub's delivery dispatchers and subscriber-file watcher."

    def handle(self, *args, **options):
        targets = [("hub.dispatch.dispatcher.run", f"ess-dispatcher-{n}") for n in range(settings.ESS_DISPATCHERS)]
        targets.append(("hub.subscriber_files.watch.run", "ess-file-watcher"))
        context = multiprocessing.get_context("fork")
        from django.db import connections

        connections.close_all()  # never share a database socket with a forked child
        children = []
        for target, name in targets:
            process = context.Process(target=_child, args=(target, name), name=name, daemon=True)
            process.start()
            children.append(process)
        log.info("started %s", ", ".join(p.name for p in children))
        try:
            super().handle(*args, **options)
        finally:
            for process in children:
                process.terminate()
            for process in children:
                process.join(timeout=10)
