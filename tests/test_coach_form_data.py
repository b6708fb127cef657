"""The form rules against form-labelled landmark data (../shared/data/landmarks); skipped without the data."""
from __future__ import annotations

import pytest

from offline import form_agreement as form_check

pytestmark = pytest.mark.skipif(not form_check.DATA.is_dir(),
                                reason=f"form-labelled landmark data not found at {form_check.DATA}")


def test_plank_hip_rules_agree_with_labelled_frames():
    rows = form_check.read_labelled_rows(form_check.DATA / "form-labelled-rows" / "plank_model" / "test.csv")
    agreement = form_check.plank_agreement(rows)
    # Thresholds were read off this very file: this guards them, it does not validate them on new data.
    assert agreement["C"] >= 0.95 and agreement["H"] >= 0.95 and agreement["L"] >= 0.95


def test_lunge_knee_over_toe_agrees_with_labelled_frames():
    rows = form_check.read_labelled_rows(form_check.DATA / "form-labelled-rows" / "lunge_model" / "err.test.csv")
    agreement = form_check.lunge_agreement(rows)
    assert agreement["C"] >= 0.9 and agreement["L"] >= 0.85 and agreement["judged"] >= 0.9 * agreement["rows"]


def test_push_up_sequences_correct_pass_and_incorrect_are_caught():
    result = form_check.pushup_agreement(form_check.DATA / "pushup-sequences")
    assert result["correct"]["sequences"] == 50 and result["incorrect"]["sequences"] == 50
    assert result["correct"]["agreement"] >= 0.9     # measured 0.96
    assert result["incorrect"]["agreement"] >= 0.5   # measured 0.64: sagging hips are caught, other faults not
