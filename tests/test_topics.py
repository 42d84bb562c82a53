"""Topic grammar and AMQP-style patterns (SPEC §3)."""

import pytest

from hub.topics import pattern_error, topic_error, topic_matches


@pytest.mark.parametrize(
    "topic",
    ["drug", "drug.copay", ".".join(["w"] * 16), "a" * 200, "appointment.cancelled", "x_1.y-2.z3"],
)
def test_valid_topics(topic):
    assert topic_error(topic) is None


@pytest.mark.parametrize(
    "topic",
    [
        ".".join(["w"] * 17),  # 17 words
        "a" * 201,  # 201 characters
        "drug..copay",  # empty word
        ".drug",
        "drug.",
        "",
        "Drug.copay",  # upper case
        "drug.*",
        "drug.#",
        "*",
        "#",
        "drug copay",
        "drug/copay",
        "drüg.copay",
        None,
        5,
    ],
)
def test_invalid_topics(topic):
    assert topic_error(topic) is not None


def test_wildcards_are_named_in_the_reason():
    assert "wildcard" in topic_error("drug.*")


@pytest.mark.parametrize("pattern", ["#", "*", "a.#", "#.c", "a.*.c", "appointment.*", "*.*.#"])
def test_valid_patterns(pattern):
    assert pattern_error(pattern) is None


@pytest.mark.parametrize("pattern", ["a.b*", "a.#b", "A.b", "a..b", "", ".".join(["*"] * 17), None])
def test_invalid_patterns(pattern):
    assert pattern_error(pattern) is not None


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("drug.copay", "drug.copay", True),
        ("drug.copay", "drug.copay.extra", False),
        ("drug.copay", "drug", False),
        ("*", "drug", True),
        ("*", "drug.copay", False),
        ("appointment.*", "appointment.cancelled", True),
        ("appointment.*", "appointment", False),
        ("appointment.*", "appointment.cancelled.late", False),
        ("#", "drug", True),
        ("#", "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p", True),
        ("a.#", "a", True),
        ("a.#", "a.b.c", True),
        ("a.#", "b.a", False),
        ("#.c", "c", True),
        ("#.c", "a.b.c", True),
        ("#.c", "a.b.c.d", False),
        ("a.*.c", "a.b.c", True),
        ("a.*.c", "a.c", False),
        ("a.*.c", "a.b.b.c", False),
        ("a.#.c", "a.c", True),
        ("a.#.c", "a.x.y.c", True),
        ("*.#", "a", True),
        ("*.#", "a.b.c", True),
    ],
)
def test_pattern_matching(pattern, topic, matches):
    assert topic_matches(pattern, topic) is matches
