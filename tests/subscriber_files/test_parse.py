"""The subscriber-file parser: every broken file names the 1-based line to fix."""

from textwrap import dedent

import pytest

from hub.subscriber_files.parse import subscriber_file_parse

GOOD = """\
    id: md-mm1
    url: https://mmis.example.gov/hook/copay
    topics: ["drug.copay"]
    throttle: 5
    max_retries: 3
    redact: ["patient.ssn"]
"""


@pytest.fixture
def parse(tmp_path):
    def parse(text: str, name: str = "md-mm1.yml", environ=None):
        path = tmp_path / name
        path.write_text(dedent(text))
        return subscriber_file_parse(path=path, environ=environ or {})

    return parse


def test_good_file_gives_its_settings(parse):
    parsed = parse(GOOD)
    assert parsed.problem is None
    assert parsed.config.id == "md-mm1"
    assert parsed.config.topics == ["drug.copay"]
    assert parsed.config.throttle == 5
    assert parsed.secret is None
    assert len(parsed.digest) == 64


def test_unknown_field_names_its_line(parse):
    parsed = parse(GOOD + "    colour: blue\n")
    assert (parsed.problem.line, parsed.problem.error) == (7, "colour: unknown field")


def test_missing_url_has_no_line(parse):
    parsed = parse('id: md-mm1\ntopics: ["drug.copay"]\n')
    assert parsed.problem.line is None
    assert parsed.problem.error == "url: url is required"


def test_duplicate_key_names_the_second_occurrence(parse):
    parsed = parse(GOOD + "    throttle: 9\n")
    assert parsed.problem.line == 7
    assert "duplicate key 'throttle' (first at line 4)" in parsed.problem.error


def test_duplicate_key_inside_a_block_is_found_too(parse):
    text = "id: mo\nconnector: mo-medicaid\ntarget:\n  host: a\n  host: b\n"
    assert parse(text).problem.line == 5


def test_bad_yaml_names_the_problem_line(parse):
    parsed = parse('id: md-mm1\nurl: https://mmis.example.gov/hook\ntopics: ["drug.copay"\nthrottle: 5\n')
    assert parsed.problem.error.startswith("invalid YAML")
    assert parsed.problem.line == 4


def test_bad_indentation_names_its_line(parse):
    parsed = parse("id: md-mm1\nurl: https://mmis.example.gov/hook\n  topics: [a]\n")
    assert parsed.problem.line == 3


def test_invalid_value_names_its_key_line(parse):
    parsed = parse(GOOD.replace("throttle: 5", "throttle: fast"))
    assert parsed.problem.line == 4
    assert parsed.problem.error.startswith("throttle: ")


def test_several_errors_point_at_the_first_and_name_all(parse):
    parsed = parse(GOOD.replace("max_retries: 3", "max_retries: -1").replace("throttle: 5", "throttle: 0"))
    assert parsed.problem.line == 4
    assert "throttle:" in parsed.problem.error and "max_retries:" in parsed.problem.error


def test_http_url_is_refused_at_its_line(parse):
    parsed = parse(GOOD.replace("https://mmis", "http://mmis"))
    assert parsed.problem.line == 2
    assert "http:// is refused" in parsed.problem.error


def test_private_address_literal_is_refused_without_dns(parse, settings):
    settings.ESS_ALLOW_PRIVATE_NETWORKS = []
    parsed = parse(GOOD.replace("mmis.example.gov", "10.1.2.3"))
    assert parsed.problem.line == 2
    assert "private address" in parsed.problem.error


def test_host_names_are_not_resolved_when_loading(parse):
    # .invalid never resolves (RFC 2606): the address is checked at connect time instead.
    assert parse(GOOD.replace("mmis.example.gov", "hub.invalid")).problem is None


def test_secret_env_takes_the_secret_from_the_environment(parse):
    parsed = parse(GOOD + "    secret_env: MD_MM1_SECRET\n", environ={"MD_MM1_SECRET": "s3cret-value"})
    assert parsed.problem is None
    assert parsed.secret == "s3cret-value"
    assert not parsed.inline_secret


def test_missing_secret_env_variable_is_an_error_at_its_line(parse):
    parsed = parse(GOOD + "    secret_env: MD_MM1_SECRET\n", environ={})
    assert parsed.problem.line == 7
    assert "MD_MM1_SECRET is not set" in parsed.problem.error


def test_secret_and_secret_env_together_are_an_error(parse):
    parsed = parse(GOOD + "    secret: abc\n    secret_env: MD_MM1_SECRET\n", environ={"MD_MM1_SECRET": "x"})
    assert parsed.problem.line == 8
    assert "not both" in parsed.problem.error


def test_inline_secret_is_allowed_and_marked(parse):
    parsed = parse(GOOD + "    secret: inline-secret\n")
    assert parsed.problem is None
    assert parsed.secret == "inline-secret"
    assert parsed.inline_secret


def test_syntax_error_on_the_secret_line_does_not_echo_the_secret(parse):
    parsed = parse(GOOD + '    secret: "hunter2-very-secret\n')
    assert parsed.problem.line is not None
    assert "hunter2" not in parsed.problem.error


def test_empty_file_is_an_error(parse):
    parsed = parse("# nothing here\n")
    assert parsed.problem.line is None
    assert "empty" in parsed.problem.error


def test_a_list_instead_of_a_mapping_is_an_error(parse):
    parsed = parse("- id: md-mm1\n")
    assert parsed.problem.line == 1
    assert "mapping" in parsed.problem.error


def test_two_documents_are_an_error_at_the_second(parse):
    parsed = parse(GOOD + "    ---\n    id: other\n")
    assert parsed.problem.line == 7


def test_aliases_are_refused(parse):
    parsed = parse('id: md-mm1\nurl: &u https://mmis.example.gov/hook\ntest_url: *u\ntopics: ["a"]\n')
    assert parsed.problem.line == 3
    assert "aliases" in parsed.problem.error


def test_a_date_value_is_an_error_at_its_line(parse):
    text = "id: mo\nconnector: mo-medicaid\nschedule: 2024-10-01\ntarget: {host: h, username: u, directory: /in}\n"
    parsed = parse(text)
    assert parsed.problem.line == 3
    assert "quote dates" in parsed.problem.error


def test_non_text_field_name_is_an_error(parse):
    parsed = parse(GOOD + "    42: answer\n")
    assert parsed.problem.line == 7


def test_connector_fields_are_kept(parse):
    text = """\
        id: mo-thresholds
        connector: mo-medicaid
        target:
          host: sftp.mo.example.gov
          username: hub
          key_env: MO_SFTP_KEY
          host_key: "sftp.mo.example.gov ssh-ed25519 AAAA"
          directory: /in
        schedule: "0 2 * * *"
    """
    parsed = parse(text)
    assert parsed.problem is None
    assert parsed.config.connector == "mo-medicaid"
    assert parsed.config.target["directory"] == "/in"
    assert parsed.config.schedule == "0 2 * * *"


def test_not_utf8_is_an_error_at_its_line(tmp_path):
    path = tmp_path / "latin.yml"
    path.write_bytes(b"id: md-mm1\nurl: https://caf\xe9.example.gov/\n")
    parsed = subscriber_file_parse(path=path, environ={})
    assert parsed.problem.line == 2


def test_unquoted_yaml_boolean_id_gets_a_hint(parse):
    parsed = parse(GOOD.replace("id: md-mm1", "id: on"))
    assert parsed.problem.line == 1
    assert "quote it" in parsed.problem.error
