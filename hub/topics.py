"""Topic grammar and AMQP-style patterns (SPEC §3).

A topic is 1 to 16 dot-separated words of [a-z0-9_-], at most 200 characters.
In a pattern `*` matches exactly one word and `#` zero or more words.
"""

import re
from functools import lru_cache

MAX_TOPIC_LENGTH = 200
MAX_WORDS = 16
_WORD = re.compile(r"[a-z0-9_-]+")


def topic_error(topic: object) -> str | None:
    """Why `topic` is not a valid published topic, or None when it is."""
    if not isinstance(topic, str) or not topic:
        return "topic must be a non-empty string"
    if len(topic) > MAX_TOPIC_LENGTH:
        return f"topic is longer than {MAX_TOPIC_LENGTH} characters"
    words = topic.split(".")
    if len(words) > MAX_WORDS:
        return f"topic has more than {MAX_WORDS} words"
    if "*" in topic or "#" in topic:
        return "wildcards (* and #) are not allowed in a published topic"
    for word in words:
        if not _WORD.fullmatch(word):
            return "topic words are 1 or more of a-z, 0-9, _ and -, joined by '.'"
    return None


def pattern_error(pattern: object) -> str | None:
    """Why `pattern` is not a valid topic pattern, or None when it is."""
    if not isinstance(pattern, str) or not pattern:
        return "a topic pattern must be a non-empty string"
    if len(pattern) > MAX_TOPIC_LENGTH:
        return f"a topic pattern is longer than {MAX_TOPIC_LENGTH} characters"
    words = pattern.split(".")
    if len(words) > MAX_WORDS:
        return f"a topic pattern has more than {MAX_WORDS} words"
    for word in words:
        if word not in ("*", "#") and not _WORD.fullmatch(word):
            return f"invalid topic pattern {pattern!r}: each word is a-z, 0-9, _ or -, or a whole * or #"
    return None


def topic_matches(pattern: str, topic: str) -> bool:
    return _match_words(tuple(pattern.split(".")), tuple(topic.split(".")))


@lru_cache(maxsize=65536)
def _match_words(pattern: tuple[str, ...], topic: tuple[str, ...]) -> bool:
    if not pattern:
        return not topic
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        # Zero words, or swallow one and try again.
        return _match_words(rest, topic) or (bool(topic) and _match_words(pattern, topic[1:]))
    if not topic:
        return False
    return (head == "*" or head == topic[0]) and _match_words(rest, topic[1:])


def matches_any(patterns: list[str], topic: str) -> bool:
    return any(topic_matches(pattern, topic) for pattern in patterns)
