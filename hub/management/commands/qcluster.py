"""`python manage.py qcluster`: django-q2's cluster plus the hub's own processes.

Beside django-q2 (scheduled and asynchronous tasks) it starts:
- ESS_DISPATCHERS delivery dispatchers (hub.dispatch.dispatcher.run), which
  claim due deliveries in batches and send them;
- one subscriber-file watcher (hub.subscriber_files.watch.run), which keeps
  the database in step with ESS_SUBSCRIBERS_DIR. Several may run on several
  machines; a database lock lets only one of them act at a time.

It runs until django-q2's cluster stops (SIGTERM or SIGINT), then stops its
own processes. One of them that exits on its own is started again (at most
every RESTART_DELAY_SECONDS), so a crash never silently stops delivery.
Children die with this process (PR_SET_PDEATHSIG), so a SIGKILLed worker
leaves no orphan sending: its leased deliveries are claimed again later.
"""

import logging
import multiprocessing
import signal
import threading
import time

from django.conf import settings
from django_q.management.commands.qcluster import Command as DjangoQCommand

log = logging.getLogger("hub.qcluster")

RESTART_DELAY_SECONDS = 5.0


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
        targets = {f"ess-dispatcher-{n}": "hub.dispatch.dispatcher.run" for n in range(settings.ESS_DISPATCHERS)}
        targets["ess-file-watcher"] = "hub.subscriber_files.watch.run"
        from django.db import connections

        connections.close_all()  # never share a database socket with a forked child
        # Forked before django-q2 installs its signal handlers: each child handles its own.
        children = {name: self._start(target, name) for name, target in targets.items()}
        log.info("started %s", ", ".join(children))
        try:
            # django-q2 starts its cluster and returns while it runs.
            super().handle(*args, **options)
            cluster = [p for p in multiprocessing.active_children() if p.name not in children]
            self._supervise(targets, children, cluster)
        finally:
            for process in children.values():
                process.terminate()
            for process in children.values():
                process.join(timeout=10)

    def _start(self, target: str, name: str) -> multiprocessing.Process:
        process = multiprocessing.get_context("fork").Process(
            target=_child, args=(target, name), name=name, daemon=True
        )
        process.start()
        process.started_at = time.monotonic()
        return process

    def _supervise(self, targets: dict, children: dict, cluster: list) -> None:
        """Wait while django-q2's cluster runs, starting again any of our children that exited."""
        stopping = False

        def on_stop(previous):
            def handler(signum, frame):
                nonlocal stopping
                stopping = True  # our children are stopping too: do not start them again
                if callable(previous):
                    # django-q2's handler (Cluster.stop) blocks forever when its sentinel was
                    # killed by the same signal sent to the whole process group: run it aside.
                    # This loop ends when the sentinel is gone, either way.
                    threading.Thread(target=previous, args=(signum, frame), daemon=True).start()

            return handler

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, on_stop(signal.getsignal(signum)))
        while any(process.is_alive() for process in cluster):
            for name, process in list(children.items()):
                if stopping or process.is_alive():
                    continue
                if time.monotonic() - process.started_at >= RESTART_DELAY_SECONDS:
                    log.error("%s exited with code %s; starting it again", name, process.exitcode)
                    children[name] = self._start(targets[name], name)
            time.sleep(0.5)
