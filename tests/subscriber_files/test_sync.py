"""One pass of subscriber_files_sync: files to rows, the last good version kept, errors recorded."""

import logging
from textwrap import dedent

import pytest

from hub import crypto
from hub.models import FileError, Subscriber
from hub.subscriber_files.sync import subscriber_file_check, subscriber_files_sync

pytestmark = pytest.mark.django_db

GOOD = """\
    id: md-mm1
    url: https://mmis.example.gov/hook/copay
    topics: ["drug.copay"]
    throttle: 5
"""


@pytest.fixture
def folder(tmp_path):
    directory = tmp_path / "subscribers"
    directory.mkdir()

    class Folder:
        path = directory

        def write(self, name: str, text: str) -> None:
            (directory / name).write_text(dedent(text))

        def remove(self, name: str) -> None:
            (directory / name).unlink()

        def sync(self):
            return subscriber_files_sync(directory=directory)

    return Folder()


def test_new_file_creates_a_file_subscriber(folder, settings):
    folder.write("md.yml", GOOD)
    report = folder.sync()
    row = Subscriber.objects.get(id="md-mm1")
    assert report.loaded == ["md-mm1"]
    assert (row.source, row.kind, row.state) == ("file", "webhook", "active")
    assert (row.url, row.topics, row.throttle) == ("https://mmis.example.gov/hook/copay", ["drug.copay"], 5)
    assert row.file_path == "md.yml" and len(row.file_digest) == 64
    assert (row.max_retries, row.retry_base_seconds) == (settings.ESS_MAX_RETRIES, settings.ESS_RETRY_BASE_SECONDS)


def test_generated_secret_is_stored_encrypted_and_kept_across_reloads(folder):
    folder.write("md.yml", GOOD)
    folder.sync()
    first = Subscriber.objects.get(id="md-mm1").secret_encrypted
    assert crypto.decrypt(first).startswith("whsec_")
    folder.write("md.yml", GOOD.replace("throttle: 5", "throttle: 7"))
    folder.sync()
    row = Subscriber.objects.get(id="md-mm1")
    assert row.throttle == 7
    assert crypto.decrypt(row.secret_encrypted) == crypto.decrypt(first)


def test_second_pass_over_unchanged_files_writes_nothing(folder):
    folder.write("md.yml", GOOD)
    folder.sync()
    before = Subscriber.objects.get(id="md-mm1").updated_at
    report = folder.sync()
    assert (report.loaded, report.unchanged) == ([], ["md-mm1"])
    assert Subscriber.objects.get(id="md-mm1").updated_at == before


def test_edit_changes_the_row(folder):
    folder.write("md.yml", GOOD)
    folder.sync()
    folder.write("md.yml", GOOD.replace('["drug.copay"]', '["drug.#", "appointment.*"]'))
    assert folder.sync().loaded == ["md-mm1"]
    assert Subscriber.objects.get(id="md-mm1").topics == ["drug.#", "appointment.*"]


def test_enabled_false_is_paused(folder):
    folder.write("md.yml", GOOD + "    enabled: false\n")
    folder.sync()
    assert Subscriber.objects.get(id="md-mm1").state == "paused"


def test_removed_file_disables_and_keeps_the_row(folder):
    folder.write("md.yml", GOOD)
    folder.sync()
    folder.remove("md.yml")
    assert folder.sync().disabled == ["md-mm1"]
    row = Subscriber.objects.get(id="md-mm1")
    assert row.state == "disabled"
    assert row.file_path == "md.yml"


def test_file_that_comes_back_re_enables(folder):
    folder.write("md.yml", GOOD)
    folder.sync()
    folder.remove("md.yml")
    folder.sync()
    folder.write("md.yml", GOOD)
    folder.sync()
    assert Subscriber.objects.get(id="md-mm1").state == "active"


def test_broken_edit_keeps_the_last_good_version_and_records_the_error(folder):
    folder.write("md.yml", GOOD)
    folder.sync()
    folder.write("md.yml", GOOD.replace('["drug.copay"]', '["appointment.*"]') + "    colour: blue\n")
    report = folder.sync()
    row = Subscriber.objects.get(id="md-mm1")
    assert (row.state, row.topics) == ("active", ["drug.copay"])
    assert report.loaded == []
    error = FileError.objects.get()
    assert (error.file, error.line, error.error) == ("md.yml", 5, "colour: unknown field")


def test_broken_yaml_does_not_disable_the_subscriber(folder):
    folder.write("md.yml", GOOD)
    folder.sync()
    folder.write("md.yml", "id: md-mm1\nurl: [\n")
    assert folder.sync().disabled == []
    assert Subscriber.objects.get(id="md-mm1").state == "active"


def test_fixed_file_clears_its_error(folder):
    folder.write("md.yml", GOOD + "    colour: blue\n")
    folder.sync()
    assert FileError.objects.count() == 1
    folder.write("md.yml", GOOD)
    folder.sync()
    assert FileError.objects.count() == 0
    assert Subscriber.objects.filter(id="md-mm1").exists()


def test_removed_broken_file_clears_its_error(folder):
    folder.write("md.yml", "id: [\n")
    folder.sync()
    folder.remove("md.yml")
    folder.sync()
    assert FileError.objects.count() == 0


def test_broken_file_is_logged_once_at_warning(folder, caplog):
    folder.write("md.yml", GOOD + "    colour: blue\n")
    with caplog.at_level(logging.WARNING, logger="hub.subscriber_files"):
        folder.sync()
        folder.sync()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "md.yml:5" in warnings[0] and "colour: unknown field" in warnings[0]


def test_id_of_an_api_subscriber_is_refused(folder):
    Subscriber.objects.create(id="md-mm1", source="api", url="https://api.example.gov/", topics=["a"])
    folder.write("md.yml", GOOD)
    folder.sync()
    row = Subscriber.objects.get(id="md-mm1")
    assert (row.source, row.url) == ("api", "https://api.example.gov/")
    error = FileError.objects.get()
    assert error.line == 1
    assert "already used by a subscriber created through the API" in error.error


def test_id_already_used_by_another_file_is_refused(folder):
    folder.write("a.yml", GOOD)
    folder.sync()
    folder.write("b.yml", "    # a copy of a.yml\n" + GOOD)
    folder.sync()
    assert Subscriber.objects.get(id="md-mm1").file_path == "a.yml"
    error = FileError.objects.get()
    assert (error.file, error.line) == ("b.yml", 2)
    assert "already used by a.yml" in error.error


def test_newcomer_cannot_take_the_id_of_a_broken_file(folder):
    folder.write("a.yml", GOOD)
    folder.sync()
    folder.write("a.yml", "id: [\n")
    folder.write("b.yml", GOOD.replace("throttle: 5", "throttle: 1"))
    folder.sync()
    row = Subscriber.objects.get(id="md-mm1")
    assert (row.file_path, row.throttle) == ("a.yml", 5)
    assert set(FileError.objects.values_list("file", flat=True)) == {"a.yml", "b.yml"}


def test_renamed_file_keeps_its_subscriber(folder):
    folder.write("a.yml", GOOD)
    folder.sync()
    folder.remove("a.yml")
    folder.write("b.yml", GOOD)
    report = folder.sync()
    assert (report.loaded, report.disabled) == (["md-mm1"], [])
    row = Subscriber.objects.get(id="md-mm1")
    assert (row.file_path, row.state) == ("b.yml", "active")


def test_file_that_changes_its_id_disables_the_old_one(folder):
    folder.write("md.yml", GOOD)
    folder.sync()
    folder.write("md.yml", GOOD.replace("md-mm1", "md-mm2"))
    folder.sync()
    states = dict(Subscriber.objects.values_list("id", "state"))
    assert states == {"md-mm1": "disabled", "md-mm2": "active"}


def test_staff_pause_survives_a_pass_over_an_unchanged_file(folder):
    folder.write("md.yml", GOOD)
    folder.sync()
    Subscriber.objects.filter(id="md-mm1").update(state="paused")
    folder.sync()
    assert Subscriber.objects.get(id="md-mm1").state == "paused"


def test_secret_env_value_is_stored_encrypted(folder, monkeypatch):
    monkeypatch.setenv("MD_MM1_SECRET", "whsec_dGhpcyBpcyB0aGUgc2VjcmV0")
    folder.write("md.yml", GOOD + "    secret_env: MD_MM1_SECRET\n")
    folder.sync()
    stored = Subscriber.objects.get(id="md-mm1").secret_encrypted
    assert "dGhpcyBpcyB0aGUgc2VjcmV0" not in stored
    assert crypto.decrypt(stored) == "whsec_dGhpcyBpcyB0aGUgc2VjcmV0"


def test_changed_secret_env_keeps_the_old_secret_for_the_overlap(folder, monkeypatch):
    monkeypatch.setenv("MD_MM1_SECRET", "first-secret")
    folder.write("md.yml", GOOD + "    secret_env: MD_MM1_SECRET\n")
    folder.sync()
    monkeypatch.setenv("MD_MM1_SECRET", "second-secret")
    folder.sync()  # same file, new environment (as after a restart)
    row = Subscriber.objects.get(id="md-mm1")
    assert crypto.decrypt(row.secret_encrypted) == "second-secret"
    assert crypto.decrypt(row.previous_secret_encrypted) == "first-secret"
    assert row.previous_secret_expires_at is not None


def test_missing_secret_env_keeps_the_last_good_secret(folder, monkeypatch):
    monkeypatch.setenv("MD_MM1_SECRET", "first-secret")
    folder.write("md.yml", GOOD + "    secret_env: MD_MM1_SECRET\n")
    folder.sync()
    monkeypatch.delenv("MD_MM1_SECRET")
    folder.sync()
    assert crypto.decrypt(Subscriber.objects.get(id="md-mm1").secret_encrypted) == "first-secret"
    assert "MD_MM1_SECRET is not set" in FileError.objects.get().error


def test_inline_secret_is_warned_about_without_showing_it(folder, caplog):
    folder.write("md.yml", GOOD + "    secret: inline-hunter2\n")
    with caplog.at_level(logging.INFO, logger="hub.subscriber_files"):
        folder.sync()
    assert any("inline" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert not any("hunter2" in r.getMessage() for r in caplog.records)
    assert crypto.decrypt(Subscriber.objects.get(id="md-mm1").secret_encrypted) == "inline-hunter2"


def test_connector_file_is_stored_as_a_connector_subscriber(folder):
    folder.write(
        "mo.yml",
        """\
        id: mo-thresholds
        connector: mo-medicaid
        target: {host: sftp.mo.example.gov, username: hub, key_env: MO_KEY, host_key: "h ssh-ed25519 A", directory: /in}
        schedule: "0 2 * * *"
        """,
    )
    folder.sync()
    row = Subscriber.objects.get(id="mo-thresholds")
    assert (row.kind, row.connector, row.schedule) == ("connector", "mo-medicaid", "0 2 * * *")
    assert row.target["host"] == "sftp.mo.example.gov"


def test_yaml_extension_is_read_and_hidden_files_are_not(folder):
    folder.write("md.yaml", GOOD)
    folder.write(".other.yml", GOOD.replace("md-mm1", "hidden"))
    folder.write("notes.txt", "id: [\n")
    folder.sync()
    assert list(Subscriber.objects.values_list("id", flat=True)) == ["md-mm1"]
    assert FileError.objects.count() == 0


def test_missing_folder_changes_nothing(folder, tmp_path):
    folder.write("md.yml", GOOD)
    folder.sync()
    report = subscriber_files_sync(directory=tmp_path / "nowhere")
    assert report.missing_directory
    assert Subscriber.objects.get(id="md-mm1").state == "active"


def test_check_reports_problems_and_writes_nothing(folder):
    folder.write("good.yml", GOOD)
    folder.write("bad.yml", "id: other\nurl: https://x.example.gov/\ntopics: [a]\nspeed: 3\n")
    problems = subscriber_file_check(directory=folder.path)
    assert [(p.file, p.line) for p in problems] == [("bad.yml", 4)]
    assert Subscriber.objects.count() == 0
    assert FileError.objects.count() == 0


def test_check_names_an_id_taken_in_the_database(folder):
    Subscriber.objects.create(id="md-mm1", source="admin", url="https://a.example.gov/", topics=["a"])
    folder.write("md.yml", GOOD)
    problems = subscriber_file_check(directory=folder.path)
    assert [(p.file, p.line) for p in problems] == [("md.yml", 1)]
