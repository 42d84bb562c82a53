"""The HTTP webhook channel against real receivers on loopback (no mocks of the network)."""

import socket
import threading
import time
from functools import partial

import pytest

from connectors.channels.base import ConfigurationError, RetryableError
from connectors.channels.webhook import EXCERPT_CHARS, WebhookChannel
from hub.urlsafety import address_refusal, url_error
from tests.fixtures.receivers import Reply

BODY = b'{"id":"evt_1","data":{"a":1}}'
HEADERS = {"Content-Type": "application/json", "X-ESS-Topic": "a.b"}


@pytest.fixture
def make_channel(ca_settings):
    made = []

    def make(*, ca_bundle: str | None = None) -> WebhookChannel:
        channel = WebhookChannel(
            pool_size=4,
            ca_bundle=ca_settings.ESS_CA_BUNDLE if ca_bundle is None else ca_bundle,
            address_check=address_refusal,
            url_check=partial(url_error, resolve=False),
        )
        made.append(channel)
        return channel

    yield make
    for channel in made:
        channel.close()


def send(channel: WebhookChannel, url: str, *, timeout: float = 5.0):
    return channel.send(url=url, body=BODY, headers=HEADERS, timeout=timeout)


def test_posts_the_exact_body_and_headers_over_tls_trusting_the_ca_bundle(make_channel, https_receiver):
    response = send(make_channel(), https_receiver.url)

    assert response.status == 200
    assert response.excerpt == "ok"
    [request] = https_receiver.requests
    assert request.method == "POST"
    assert request.body == BODY
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-ESS-Topic"] == "a.b"


def test_a_certificate_from_an_unknown_ca_is_a_retryable_tls_error(make_channel, https_receiver):
    with pytest.raises(RetryableError, match="TLS"):
        send(make_channel(ca_bundle=""), https_receiver.url)
    assert https_receiver.requests == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])  # an address, and a name resolved at connect
def test_a_refused_peer_address_is_a_configuration_error_and_nothing_is_sent(
    make_channel, https_receiver, settings, host
):
    channel = make_channel()
    settings.ESS_ALLOW_PRIVATE_NETWORKS = []

    with pytest.raises(ConfigurationError, match=r"refused to deliver to .*(127\.0\.0\.1|::1) is a loopback address"):
        send(channel, https_receiver.url.replace("127.0.0.1", host))
    assert https_receiver.requests == []


def test_http_is_refused_unless_the_host_is_allowed(make_channel, http_receiver, settings):
    channel = make_channel()
    settings.ESS_ALLOW_HTTP_HOSTS = []
    with pytest.raises(ConfigurationError, match="http:// is refused"):
        send(channel, http_receiver.url)
    assert http_receiver.requests == []

    settings.ESS_ALLOW_HTTP_HOSTS = ["127.0.0.1"]
    assert send(channel, http_receiver.url).status == 200
    assert len(http_receiver.requests) == 1


def test_a_redirect_is_returned_as_the_answer_and_not_followed(make_channel, make_https_receiver):
    first, second = make_https_receiver(), make_https_receiver()
    first.script(Reply(status=307, headers={"Location": second.url}))

    response = send(make_channel(), first.url)

    assert response.status == 307
    assert len(first.requests) == 1
    assert second.requests == []


def test_an_answer_slower_than_the_timeout_is_a_retryable_error(make_channel, https_receiver):
    https_receiver.script(Reply(delay=2.0))
    started = time.monotonic()

    with pytest.raises(RetryableError, match="no answer within the 0.3 s timeout"):
        send(make_channel(), https_receiver.url, timeout=0.3)
    assert time.monotonic() - started < 1.5


def test_the_timeout_is_a_total_deadline_even_when_the_receiver_trickles(make_channel, settings):
    settings.ESS_ALLOW_HTTP_HOSTS = ["127.0.0.1"]
    with TricklingServer() as url:
        started = time.monotonic()
        with pytest.raises(RetryableError, match="no answer within the 0.5 s timeout"):
            send(make_channel(), url, timeout=0.5)
        elapsed = time.monotonic() - started
    # Each header line arrives well inside a per-read timeout; only a total deadline stops it.
    assert elapsed < 1.5


def test_a_closed_port_is_a_retryable_connection_error(make_channel):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RetryableError, match="connection failed: .*[Cc]onnection refused"):
        send(make_channel(), f"https://127.0.0.1:{port}/hook")


def test_keep_alive_connections_are_reused_between_sends(make_channel, https_receiver):
    accepted = []
    accept = https_receiver.server.get_request

    def counting_accept():
        connection = accept()
        accepted.append(connection)
        return connection

    https_receiver.server.get_request = counting_accept
    channel = make_channel()

    for _ in range(3):
        assert send(channel, https_receiver.url).status == 200

    assert len(https_receiver.requests) == 3
    assert len(accepted) == 1


def test_the_excerpt_is_the_first_thousand_characters_and_retry_after_is_reported(make_channel, https_receiver):
    https_receiver.script(Reply(status=503, body=("é" * 3000).encode(), headers={"Retry-After": "7"}))

    response = send(make_channel(), https_receiver.url)

    assert response.status == 503
    assert response.excerpt == "é" * EXCERPT_CHARS
    assert response.retry_after == "7"


class TricklingServer:
    """Plain HTTP on loopback that starts an answer and then sends one header line every 0.1 s."""

    def __enter__(self) -> str:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/hook"

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        with connection:
            connection.recv(65536)
            try:
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                while not self._stop.wait(0.1):
                    connection.sendall(b"X-Slow: yes\r\n")
            except OSError:
                pass  # the client gave up: what the test expects

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=2)
