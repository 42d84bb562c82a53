"""`manage.py ess check-subscribers`: one line per file, a non-zero exit on any error."""

import subprocess
import sys

from hub.models import Subscriber
from tests.fixtures.processes import ROOT

GOOD = 'id: md-mm1\nurl: https://mmis.example.gov/hook\ntopics: ["drug.copay"]\n'


def check(directory, env) -> subprocess.CompletedProcess:
    args = [sys.executable, "manage.py", "ess", "check-subscribers", "--dir", str(directory)]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_good_folder_exits_zero(tmp_path, hub_env):
    (tmp_path / "md.yml").write_text(GOOD)
    result = check(tmp_path, hub_env)
    assert result.returncode == 0, result.stderr
    assert f"ok    {tmp_path / 'md.yml'}" in result.stdout


def test_broken_folder_exits_non_zero_and_names_file_and_line(tmp_path, hub_env):
    (tmp_path / "md.yml").write_text(GOOD)
    (tmp_path / "bad.yml").write_text('id: bad\nurl: https://x.example.gov/\ntopics: ["a"]\nspeed: 3\n')
    result = check(tmp_path, hub_env)
    assert result.returncode != 0
    assert f"error {tmp_path / 'bad.yml'}:4: speed: unknown field" in result.stdout
    assert f"ok    {tmp_path / 'md.yml'}" in result.stdout


def test_check_writes_nothing(tmp_path, hub_env):
    (tmp_path / "md.yml").write_text(GOOD)
    assert check(tmp_path, hub_env).returncode == 0
    assert not Subscriber.objects.exists()


def test_missing_folder_is_an_error(tmp_path, hub_env):
    result = check(tmp_path / "nowhere", hub_env)
    assert result.returncode != 0
    assert "is not a directory" in result.stderr
