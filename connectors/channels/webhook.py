"""The HTTP webhook channel: POST bytes to a URL and report the answer (SPEC §5).

Knows HTTP only: no Django models, no retry policy (the caller classifies the
answer). It must never follow a redirect, read proxy variables, or talk to an
address the hub's policy refuses: the peer of every new connection is checked
after the TCP connect and before a byte is sent, so a name that rebinds to a
private address after registration is still refused, without a second lookup.
"""

import heapq
import http.cookiejar
import itertools
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
import requests.certs
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from connectors.channels.base import ConfigurationError, RetryableError

EXCERPT_CHARS = 1000
# A body longer than this is not drained: the connection is closed instead of reused.
_DRAIN_BYTES = 64 * 1024

# Policy hooks, supplied by the hub: each returns why a target is refused, or None.
AddressCheck = Callable[[str], str | None]
UrlCheck = Callable[[str], str | None]


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    duration: float  # seconds from the start of the send until the answer's status and headers
    excerpt: str  # the first EXCERPT_CHARS characters of the body
    retry_after: str | None  # the Retry-After header as sent, for the caller's policy


class _Attempt:
    """One send on one thread: its total deadline, its address policy and the connection it uses."""

    def __init__(self, *, deadline: float, address_check: AddressCheck):
        self.deadline = deadline
        self.address_check = address_check
        self.expired = False
        self._lock = threading.Lock()
        self._connection: HTTPConnection | None = None
        self._finished = False

    def use(self, connection: HTTPConnection) -> None:
        connection.ess_attempt = self
        with self._lock:
            self._connection = connection

    def expire(self) -> None:
        """At the deadline: shut the socket down so that a read blocked on it returns at once.

        Per-read socket timeouts alone would let a receiver that trickles bytes
        hold a send far past its timeout, and past its delivery's lease.
        """
        with self._lock:
            if self._finished:
                return
            self.expired = True
            connection = self._connection
            # A connection handed back to the pool may already serve another send.
            if connection is None or getattr(connection, "ess_attempt", None) is not self:
                return
            sock = connection.sock
            if sock is not None:
                try:
                    # The plain socket's shutdown, also for TLS: SSLSocket.shutdown would
                    # tear down the TLS state under the reading thread.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass

    def finish(self) -> None:
        with self._lock:
            self._finished = True


class _Reaper:
    """One thread per process that expires attempts at their deadlines."""

    def __init__(self):
        self._heap: list[tuple[float, int, _Attempt]] = []
        self._order = itertools.count()
        self._wakeup = threading.Condition()
        self._pid: int | None = None

    def watch(self, attempt: _Attempt) -> None:
        with self._wakeup:
            if self._pid != os.getpid():  # first use, or a forked child without the thread
                self._pid = os.getpid()
                self._heap.clear()
                threading.Thread(target=self._run, name="webhook-deadlines", daemon=True).start()
            heapq.heappush(self._heap, (attempt.deadline, next(self._order), attempt))
            self._wakeup.notify()

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while not self._heap:
                    self._wakeup.wait()
                deadline, _, attempt = self._heap[0]
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._wakeup.wait(delay)
                    continue
                heapq.heappop(self._heap)
            attempt.expire()


_reaper = _Reaper()
_current = threading.local()


class _CheckedConnectionMixin:
    """Refuses a new connection whose peer the policy refuses, and lets the deadline reach it."""

    def _new_conn(self) -> socket.socket:
        # urllib3's hook between the TCP connect and the first byte sent (the TLS
        # ClientHello or the request): the only place to check the real peer.
        sock = super()._new_conn()
        attempt: _Attempt | None = getattr(_current, "attempt", None)
        peer = sock.getpeername()[0]
        reason = attempt.address_check(peer) if attempt is not None else "no webhook send is in progress"
        if reason is not None:
            sock.close()
            raise ConfigurationError(f"refused to deliver to {self.host}: {reason}")
        return sock

    def connect(self) -> None:
        self._attach()
        super().connect()

    def request(self, *args, **kwargs):
        self._attach()
        return super().request(*args, **kwargs)

    def _attach(self) -> None:
        attempt = getattr(_current, "attempt", None)
        if attempt is not None:
            attempt.use(self)


class _CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _Adapter(HTTPAdapter):
    """Pooled keep-alive connections of the checked kind, trusting our own TLS context."""

    def __init__(self, *, ssl_context: ssl.SSLContext, pool_size: int):
        self._ssl_context = ssl_context
        super().__init__(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        super().init_poolmanager(connections, maxsize, block, ssl_context=self._ssl_context, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def cert_verify(self, conn, url, verify, cert):
        # Trust comes from the SSLContext alone; requests would add its own CA file per pool.
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


def tls_context(ca_bundle: str = "") -> ssl.SSLContext:
    """The default CA store (requests' bundle when the system has none) plus `ca_bundle` when given."""
    context = ssl.create_default_context()
    paths = ssl.get_default_verify_paths()
    if not (paths.cafile or paths.capath):
        context.load_verify_locations(requests.certs.where())
    if ca_bundle:
        try:
            context.load_verify_locations(ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(f"the CA bundle {ca_bundle} cannot be loaded: {exc}") from exc
    return context


class WebhookChannel:
    """One per dispatcher process: a session whose pool holds `pool_size` connections per host.

    Thread-safe: the dispatcher's sender threads share it.
    """

    def __init__(self, *, pool_size: int, address_check: AddressCheck, url_check: UrlCheck, ca_bundle: str = ""):
        self._address_check = address_check
        self._url_check = url_check
        self._session = requests.Session()
        self._session.trust_env = False  # no proxy variables, no .netrc
        self._session.headers.clear()
        self._session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        adapter = _Adapter(ssl_context=tls_context(ca_bundle), pool_size=pool_size)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def close(self) -> None:
        self._session.close()

    def send(self, *, url: str, body: bytes, headers: dict[str, str], timeout: float) -> WebhookResponse:
        """POST `body`; any HTTP answer is returned, whatever its status.

        Raises RetryableError (no answer within `timeout` seconds in total,
        connection or TLS failure) or ConfigurationError (URL or address refused).
        """
        if (reason := self._url_check(url)) is not None:
            raise ConfigurationError(reason)
        started = time.monotonic()
        attempt = _Attempt(deadline=started + timeout, address_check=self._address_check)
        _reaper.watch(attempt)
        _current.attempt = attempt
        try:
            return self._exchange(attempt, url, body, headers, timeout, started)
        finally:
            _current.attempt = None
            attempt.finish()

    def _exchange(self, attempt: _Attempt, url, body, headers, timeout, started) -> WebhookResponse:
        try:
            request = requests.Request("POST", url, data=body, headers=headers).prepare()
            response = self._session.send(request, stream=True, allow_redirects=False, timeout=(timeout, timeout))
        except ConfigurationError:
            raise
        except (requests.RequestException, ValueError) as exc:
            raise _classify(exc, url=url, timeout=timeout, expired=attempt.expired) from exc
        answered = time.monotonic() - started
        if answered > timeout:
            response.close()
            raise RetryableError(f"no answer within the {timeout:g} s timeout")
        try:
            excerpt = _read_excerpt(response)
        finally:
            attempt.finish()  # before the connection can go back to the pool and serve another send
            response.close()
        return WebhookResponse(
            status=response.status_code,
            duration=answered,
            excerpt=excerpt,
            retry_after=response.headers.get("Retry-After"),
        )


def _read_excerpt(response: requests.Response) -> str:
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=16 * 1024):
            chunks.append(chunk)
            size += len(chunk)
            if size >= _DRAIN_BYTES:
                break
    except (requests.RequestException, OSError):
        pass  # the status line was the answer; a body cut short only shortens the excerpt
    return b"".join(chunks).decode("utf-8", errors="replace")[:EXCERPT_CHARS]


def _classify(exc: Exception, *, url: str, timeout: float, expired: bool) -> Exception:
    if expired or isinstance(exc, requests.Timeout):
        return RetryableError(f"no answer within the {timeout:g} s timeout")
    if isinstance(exc, requests.exceptions.SSLError):
        return RetryableError(f"TLS failed: {_root_cause(exc)}")
    if isinstance(exc, requests.ConnectionError):
        return RetryableError(f"connection failed: {_root_cause(exc)}")
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema, ValueError)):
        return ConfigurationError(f"cannot send to {url!r}: {_root_cause(exc)}")
    return RetryableError(f"{type(exc).__name__}: {_root_cause(exc)}")


def _root_cause(exc: BaseException) -> str:
    """The innermost reason (e.g. "[Errno 111] Connection refused"), without urllib3's pool chatter."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        reason = getattr(exc, "reason", None)
        inner = reason if isinstance(reason, BaseException) else None
        if inner is None and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        inner = inner or exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return str(exc) or type(exc).__name__
