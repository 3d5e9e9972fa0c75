"""Label matchers in Alertmanager's syntax."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from buttress.alerts import matchers
from buttress.alerts.matchers import MatcherError, parse, parse_all


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ('severity="critical"', {"severity": "warning"}, False),
        ("severity=critical", {"severity": "critical"}, True),
        ('severity!="critical"', {"severity": "warning"}, True),
        ('severity!="critical"', {}, True),
        ('env=~"prod|dr"', {"env": "dr"}, True),
        ('env=~"prod"', {"env": "production"}, False),  # fully anchored
        ('instance=~"web.*"', {"instance": "myweb1"}, False),
        ('instance!~"web.*"', {"instance": "db1"}, True),
        ('instance!~"web.*"', {"instance": "web1"}, False),
        ('team=""', {}, True),  # a missing label is the empty string
        ('team=""', {"team": "ops"}, False),
        ('team=~".+"', {}, False),
    ],
)
def test_matcher_semantics_follow_alertmanager(text, labels, expected):
    assert parse(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"severity"="x"', "starts with a label name"),
        ("severity", "comes =, !=, =~ or !~"),
        ('severity=~"("', "invalid regular expression"),
        ('severity="a"b"', "must be escaped"),
        ('severity="a\\qb"', "unknown escape"),
    ],
)
def test_invalid_matchers_are_refused_with_a_message(text, message):
    with pytest.raises(MatcherError, match=message):
        parse(text)


def test_a_brace_list_is_split_at_commas_outside_quotes():
    parsed = parse_all('{alertname="HostDown", msg="a, b", env=~"prod|dr"}')
    assert [str(m) for m in parsed] == [
        'alertname="HostDown"',
        'msg="a, b"',
        'env=~"prod|dr"',
    ]


def test_the_bad_matcher_of_a_list_is_named():
    with pytest.raises(MatcherError, match="matcher 2"):
        parse_all(['a="1"', "b~1"])


def test_a_matcher_list_must_be_a_list_or_text():
    with pytest.raises(MatcherError):
        parse_all({"a": "1"})


@given(
    name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
    op=st.sampled_from(["=", "!="]),
    value=st.text(max_size=30),
)
def test_the_canonical_text_parses_back_to_the_same_matcher(name, op, value):
    original = matchers.Matcher(name, op, value)
    assert parse(str(original)) == original
    assert parse(str(original)).matches({name: value}) is (op == "=")
