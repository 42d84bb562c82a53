"""The errors every channel raises, classified by what the hub should do next.

A channel reports a transport outcome; the delivery policy (hub.services.deliveries)
decides retry or dead letter from the class alone. Channels must never import
Django models or decide retries themselves.
"""


class ChannelError(Exception):
    """A send that did not reach an answer; `str(error)` is the reason a person needs."""


class RetryableError(ChannelError):
    """Worth trying again later: timeouts, refused or reset connections, TLS failures."""


class ConfigurationError(ChannelError):
    """The target itself is wrong (refused address, URL not allowed): retrying cannot help."""


class BadDataError(ChannelError):
    """The payload cannot be sent as it is: retrying the same bytes cannot help."""
