"""Settings: declared once with help text, overridable from the environment."""
import argparse
import dataclasses

import pytest

from common.config import Settings, add_arguments, settings_from_args


def test_every_setting_has_help_text():
    for f in dataclasses.fields(Settings):
        assert len(f.metadata.get("help", "")) > 10, f.name


def test_environment_overrides_with_types():
    s = Settings.from_env({"FT_POSE_WORKERS": "4", "FT_REALTIME": "false", "FT_POSES": "tcp://broker:5554"})
    assert s.pose_workers == 4 and s.realtime is False and s.poses == "tcp://broker:5554"
    with pytest.raises(SystemExit, match="FT_POSE_WORKERS"):
        Settings.from_env({"FT_POSE_WORKERS": "many"})


def test_command_line_beats_environment(monkeypatch):
    monkeypatch.setenv("FT_UI_PORT", "9000")
    parser = argparse.ArgumentParser()
    add_arguments(parser, "ui_port", "realtime")
    assert settings_from_args(parser.parse_args([])).ui_port == 9000
    args = parser.parse_args(["--ui-port", "9100", "--no-realtime"])
    s = settings_from_args(args)
    assert s.ui_port == 9100 and s.realtime is False


def test_bind_address_and_child_environment():
    s = Settings(bind_host="0.0.0.0")
    assert s.bind_address("tcp://broker:5553") == "tcp://0.0.0.0:5553"
    assert s.bind_address("ipc:///tmp/x") == "ipc:///tmp/x"
    assert Settings.from_env(s.to_env()) == s


def test_shard_index_from_a_number_or_a_statefulset_pod_name():
    assert Settings(shard="2").shard_index(3) == 2
    assert Settings(shard="coach-1").shard_index(2) == 1           # a StatefulSet pod: <name>-<ordinal>
    assert Settings(shard="fitness-classifier-0").shard_index(1) == 0
    for bad, count in (("3", 3), ("-1", 2), ("coach", 2), ("coach-x", 2), ("", 1)):
        with pytest.raises(SystemExit, match="FT_SHARD"):
            Settings(shard=bad).shard_index(count)
