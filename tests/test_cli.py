"""The command line: every service and subcommand has --help; unsafe or wrong use gets a clear refusal."""
import subprocess
import sys

import pytest

from common.config import PROJECT_ROOT

SERVICES = ["capture", "pose", "pose.broker", "classifier", "coach", "speech", "ui", "relay"]
SUBCOMMANDS = ["up", "analyze", "eval", "bench", "monitor", "keys"]


def run(*args, timeout=60):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=PROJECT_ROOT)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_starts_alone_with_help(service):
    proc = run("-m", f"services.{service}", "--help")
    assert proc.returncode == 0, proc.stderr
    assert f"python -m services.{service}" in proc.stdout and "--log-level" in proc.stdout


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command):
    proc = run("-m", "launcher.cli", command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert f"fitness-trainer {command}" in proc.stdout


def test_train_passes_help_to_the_training_pipeline():
    proc = run("-m", "launcher.cli", "train", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--data-dir" in proc.stdout


def test_up_refuses_a_public_ui_without_token():
    proc = run("-m", "launcher.cli", "up", "--ui-host", "0.0.0.0")
    assert proc.returncode == 2
    assert "--ui-token" in proc.stderr


def test_analyze_of_a_file_that_is_not_a_video(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not a video")
    proc = run("-m", "launcher.cli", "analyze", "--json", "--no-progress", str(bad), timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.count("cannot decode video") == 1


def test_eval_held_out_needs_the_models_split(tmp_path):
    import os
    env = dict(os.environ, FT_MODELS_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "launcher.cli", "eval", "--held-out", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT, env=env)
    assert proc.returncode == 2
    assert "split.json" in proc.stderr
