"""The training report in Markdown: data, model comparison, chosen models, held-out results."""
from __future__ import annotations


def _pct(value) -> str:
    return "—" if value is None else f"{value:.1%}"


def _num(value, digits=3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _comparison_table(results: dict) -> list[str]:
    lines = ["| model | CV macro-F1 (grouped by source) | train macro-F1 | held-out macro-F1 | ms / single row "
             "| µs / row in batch |", "|---|---|---|---|---|---|"]
    for name, r in sorted(results.items(), key=lambda kv: -kv[1]["cv_macro_f1"]):
        lines.append(f"| {name} | {r['cv_macro_f1']:.3f} ± {r['cv_macro_f1_std']:.3f} | {r['train_macro_f1']:.3f} | "
                     f"{_num(r['held_out_macro_f1'])} | {r['ms_per_single_frame']:.2f} | "
                     f"{r['us_per_frame_batch']:.1f} |")
    return lines


def _confusion(block: dict) -> list[str]:
    labels = block["labels"]
    lines = ["| true \\ predicted | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for name, row in zip(labels, block["rows_true_cols_pred"]):
        lines.append(f"| **{name}** | " + " | ".join(str(v) for v in row) + " |")
    return lines


def _choice(comparison: dict) -> list[str]:
    l1, l2 = comparison["level1"], comparison["level2"]
    best1 = max(l1, key=lambda k: l1[k]["cv_macro_f1"])
    best2 = max(l2, key=lambda k: l2[k]["cv_macro_f1"])
    x, k = l1["XGBoost"], l2["kNN"]
    lines = [
        f"- Level 1 = **XGBoost** on windows of motion as the product spec says: grouped-CV macro-F1 "
        f"{x['cv_macro_f1']:.3f} (best: {best1}, {l1[best1]['cv_macro_f1']:.3f}), held-out "
        f"{_num(x['held_out_macro_f1'])}; it runs about three times a second, not per frame.",
        f"- Level 2 = **kNN** as the product spec says: grouped-CV macro-F1 {k['cv_macro_f1']:.3f} "
        f"(best: {best2}, {l2[best2]['cv_macro_f1']:.3f}), held-out {_num(k['held_out_macro_f1'])}; stored as its "
        f"training matrix (no pickle), a few microseconds of numpy per frame.",
    ]
    for level, table, chosen in (("1", l1, "XGBoost"), ("2", l2, "kNN")):
        gap = table[max(table, key=lambda n: table[n]["cv_macro_f1"])]["cv_macro_f1"] - table[chosen]["cv_macro_f1"]
        if gap > 0.05:
            lines.append(f"- **Note:** at level {level} another model beats {chosen} by {gap:.3f} CV macro-F1 "
                         f"— large enough to reconsider the spec.")
    return lines


def markdown(report: dict) -> str:
    meta, held = report["metadata"], report.get("held_out") or {}
    td = meta["training_data"]
    out = [
        "# Training report",
        "",
        f"Built {meta['created']} by `{meta['command']}` in {report['seconds']} s, seed {meta['seed']}; "
        f"versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
        "## Data",
        "",
        f"Split by source clip (models/split.json): {len(report['split']['train'])} training clips, "
        f"{len(report['split']['held_out'])} held out. {report['split']['procedure']}",
        "",
        f"Training windows of motion for level 1: {td['windows_level1']} (every {0.25} s of every training clip and "
        "of its augmented replays: mirror, camera roll and zoom, faster or slower, 10-18 frames/s, dropped frames; "
        "push-ups turned head-up; forearm planks raised onto straight arms; crunches with straighter legs, and "
        "replayed as leg raises (none); side views, and front views of jumping jacks, seen from another direction); "
        f"frames for level 2: {td['rows_level2']} (after mirroring, camera variation and the seed's noise).",
        "",
        "| level-1 class | windows |", "|---|---|",
        *[f"| {c} | {n} |" for c, n in td["windows_per_class"].items()],
        "",
        "| level-2 origin | rows |", "|---|---|",
        *[f"| {o} | {n} |" for o, n in td["rows_per_origin"].items()],
        "",
        "Labelled frames per kind of source (training side, before augmentation):",
        "",
        "| kind | sources | frames | labelled frames per class |", "|---|---|---|---|",
        *[f"| {k} | {v['sources']} | {v['frames']} | " + ", ".join(f"{c} {n}" for c, n in v["labelled"].items()) + " |"
          for k, v in td["sources"].items()],
        "",
        "## Model comparison",
        "",
        f"Each candidate is trained on a class-balanced sample "
        f"({report['comparison']['sample']['level1_windows']} windows for level 1, "
        f"{report['comparison']['sample']['level2_rows']} frames for level 2) and scored by macro-F1 with "
        f"{report['comparison']['sample']['folds']}-fold GroupKFold (a clip, image or sequence and all its copies "
        "stay in one fold), on the sample itself (train), and on the real windows / frames of the held-out clips "
        "(no augmentation). Level 2 gets the true exercise's one-hot as extra features. Timing is scikit-learn's "
        "`predict` on this machine.",
        "",
        "### Level 1: exercise (incl. none), per window of motion",
        "",
        *_comparison_table(report["comparison"]["level1"]),
        "",
        "### Level 2: start / end",
        "",
        *_comparison_table(report["comparison"]["level2"]),
        "",
        "### Chosen models",
        "",
        *_choice(report["comparison"]),
        "",
    ]
    if held:
        w, f, c, t = held["windows"], held["frames"], held["clips"], held["timing"]
        out += [
            "## Held-out results (final models)",
            "",
            f"- Level 1 on {w['level1_windows']} windows of the held-out clips: accuracy {_pct(w['level1_accuracy'])}, "
            f"macro-F1 {_num(w['level1_macro_f1'])}.",
            f"- Level 2 on {f['level2_frames']} start/end frames, told the true exercise: accuracy "
            f"{_pct(f['level2_accuracy_given_exercise'])}.",
            f"- Per clip ({c['count']} clips with a pose): the exercise recognised on most frames (\"none\" aside) is "
            f"right on {_pct(c['recognised_majority_accuracy'])}. Reps and plank time are scored by "
            "`python -m offline.coach_eval` and `fitness-trainer eval` (classifier and coach together).",
            f"- Speed: SessionClassifier.classify {t.get('classify_ms_mean', float('nan')):.3f} ms a frame on average "
            f"({t.get('classify_ms_p95', float('nan')):.3f} p95; the window model runs every 0.33 s).",
            "",
            "### Level-1 confusion (held-out windows)",
            "",
            *_confusion(w["level1_confusion"]),
            "",
            "### Level-2 confusion (held-out frames, true exercise given)",
            "",
            *_confusion(f["level2_confusion_given_exercise"]),
            "",
            "### Per clip",
            "",
            "| clip | truth | recognised (majority) | most frames | switches |",
            "|---|---|---|---|---|",
        ]
        for r in c["per_clip"]:
            if not r.get("with_pose"):
                out.append(f"| {r['file']} | {r['truth']} | (no pose) | | |")
                continue
            mark = "" if r["recognised_majority"] == r["truth"] else " ✗"
            counts = ", ".join(f"{k} {v}" for k, v in r["recognised_counts"].items())
            out.append(f"| {r['file']} | {r['truth']} | {r['recognised_majority']}{mark} | {counts} | "
                       f"{r['switches']} |")
        out.append("")
    if report.get("phase_label_check"):
        out += ["## Phase labelling checked against the form-labelled rows", "",
                "| rows | count | signal AUC end vs start | share labelled | agreement where labelled |",
                "|---|---|---|---|---|"]
        for name, r in report["phase_label_check"].items():
            out.append(f"| {name} | {r['rows']} | {r['signal_auc_end_vs_start']:.3f} | {_pct(r['labelled_share'])} | "
                       f"{_pct(r['agreement_where_labelled'])} |")
        out.append("")
    return "\n".join(out) + "\n"
