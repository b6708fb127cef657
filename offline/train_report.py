"""The training report in Markdown: data, model comparison, chosen models, held-out results."""
from __future__ import annotations


def _pct(value) -> str:
    return "—" if value is None else f"{value:.1%}"


def _num(value, digits=3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _comparison_table(results: dict) -> list[str]:
    lines = ["| model | CV macro-F1 (grouped by source) | train macro-F1 | held-out macro-F1 | ms / single frame "
             "| µs / frame in batch |", "|---|---|---|---|---|---|"]
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
        f"- Level 1 = **XGBoost** as the product spec says: grouped-CV macro-F1 {x['cv_macro_f1']:.3f} "
        f"(best: {best1}, {l1[best1]['cv_macro_f1']:.3f}), held-out {_num(x['held_out_macro_f1'])}; "
        f"{x['ms_per_single_frame']:.2f} ms per frame through scikit-learn, less through `inplace_predict`.",
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
        f"Training rows: {td['rows_level1']} for level 1, {td['rows_level2']} for level 2 "
        "(after mirroring, camera variation and the seed's noise).",
        "",
        "| class | rows |", "|---|---|",
        *[f"| {c} | {n} |" for c, n in td["rows_per_class"].items()],
        "",
        "| origin | rows |", "|---|---|",
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
        f"Each candidate is trained on a class-balanced sample of the training rows "
        f"({report['comparison']['sample']['level1_rows']} rows for level 1, "
        f"{report['comparison']['sample']['level2_rows']} for level 2) and scored by macro-F1 with "
        f"{report['comparison']['sample']['folds']}-fold GroupKFold (a clip, image or sequence and all its copies "
        "stay in one fold), on the sample itself (train), and on the real frames of the held-out clips "
        "(no augmentation). Level 2 gets the exercise one-hot as extra features (the true exercise here; "
        "the chained figure below uses level 1's answer). Timing is scikit-learn's `predict` on this machine.",
        "",
        "### Level 1: exercise (incl. none)",
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
        f, c, t = held["frames"], held["clips"], held["timing"]
        out += [
            "## Held-out results (final models)",
            "",
            f"- Per frame, level 1 on {f['level1_frames']} labelled frames: accuracy {_pct(f['level1_accuracy'])}, "
            f"macro-F1 {_num(f['level1_macro_f1'])}.",
            f"- Per frame, level 2 on {f['level2_frames']} start/end frames: accuracy "
            f"{_pct(f['level2_accuracy_chained'])} "
            f"chained after level 1, {_pct(f['level2_accuracy_given_exercise'])} given the true exercise.",
            f"- Per clip ({c['count']} clips with a pose): exercise right on {_pct(c['raw_majority_accuracy'])} by the "
            f"majority of raw frame answers, {_pct(c['voted_majority_accuracy'])} by the majority of voted answers "
            "(SessionClassifier, every frame with a pose).",
            f"- Reps from the voted phase (start→end→start) vs labels: exact {_pct(c['reps_exact'])}, within one "
            f"{_pct(c['reps_within_1'])}; cycles counted on 'other' clips: {c['reps_counted_on_other_clips']}.",
            f"- Speed per frame: cascade {t['cascade_predict_ms_median']:.3f} ms median "
            f"({t['cascade_predict_ms_p95']:.3f} p95); whole classify incl. features and votes "
            f"{t['classify_ms_median']:.3f} ms ({t['classify_ms_p95']:.3f} p95).",
            "",
            "### Level-1 confusion (held-out frames)",
            "",
            *_confusion(f["level1_confusion"]),
            "",
            "### Level-2 confusion (held-out frames, true exercise given)",
            "",
            *_confusion(f["level2_confusion_given_exercise"]),
            "",
            "### Per clip",
            "",
            "| clip | truth | raw majority | voted majority | reps label | reps counted | phase changes |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in c["per_clip"]:
            if not r.get("with_pose"):
                out.append(f"| {r['file']} | {r['truth']} | (no pose) | | | | |")
                continue
            mark = "" if r["voted_majority"] == r["truth"] else " ✗"
            out.append(f"| {r['file']} | {r['truth']} | {r['raw_majority']} | {r['voted_majority']}{mark} | "
                       f"{'' if r['reps_label'] is None else r['reps_label']} | {r['reps_counted']} | "
                       f"{r['phase_changes']} |")
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
