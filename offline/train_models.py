"""Model fitting: the honest comparison of model families for both levels, and the final kNN of level 2
(level 1's XGBoost on windows: offline/train_window.py)."""
from __future__ import annotations

import logging
import time

import numpy as np

from common.exercises import EXERCISES
from services.classifier.cascade import PHASE_CLASSES, PhaseKnn

logger = logging.getLogger(__name__)

COUNTED = [e for e in EXERCISES if e != "plank"]
CV_FOLDS = 5
COMPARE_PER_CLASS = 800          # rows per class in the comparison sample (SVM cost grows ~quadratically)
XGB_PARAMS = dict(n_estimators=160, max_depth=5, learning_rate=0.12, subsample=0.8, colsample_bytree=0.8,
                  min_child_weight=2.0, tree_method="hist")
KNN_PER_CLASS = 500              # level-2 matrix rows per (exercise, phase): small and fast
KNN_K = 9
KNN_ONEHOT_WEIGHT = 4.0          # in standard deviations: neighbours come from the same exercise first


def candidates(seed: int, n_jobs: int, xgb_params: dict = XGB_PARAMS) -> dict:
    """The seed's six model families, each with the scaling it needs."""
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler
    from sklearn.svm import SVC
    from xgboost import XGBClassifier
    return {
        "Logistic Regression": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "kNN": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=KNN_K)),
        "SVM (RBF)": lambda: make_pipeline(StandardScaler(), SVC(C=3.0, gamma="scale")),
        "SGD (linear SVM)": lambda: make_pipeline(StandardScaler(), SGDClassifier(random_state=seed,
                                                                                  max_iter=2000, tol=1e-4)),
        # Multinomial NB needs non-negative inputs; clip keeps unseen values inside the fitted range.
        "Multinomial NB": lambda: make_pipeline(MinMaxScaler(clip=True), MultinomialNB()),
        "XGBoost": lambda: XGBClassifier(**xgb_params, random_state=seed, n_jobs=n_jobs),
    }


def balanced_sample(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices with at most `per_class` rows of each label (all of a smaller class)."""
    out = []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        out.append(idx if len(idx) <= per_class else rng.choice(idx, per_class, replace=False))
    return np.sort(np.concatenate(out))


def _macro_f1(y_true, y_pred) -> float:
    from sklearn.metrics import f1_score
    return float(f1_score(y_true, y_pred, average="macro"))


def _time_per_frame(model, X: np.ndarray) -> tuple[float, float]:
    """(ms for one frame alone, median of 30 calls; microseconds per frame in a batch)."""
    singles = []
    for i in range(30):
        row = X[i % len(X)][None]
        t = time.perf_counter()
        model.predict(row)
        singles.append(time.perf_counter() - t)
    t = time.perf_counter()
    model.predict(X)
    batch = (time.perf_counter() - t) / len(X)
    return float(np.median(singles) * 1000), float(batch * 1e6)


def compare(X, y, groups, X_held, y_held, seed: int, n_jobs: int, progress=None,
            xgb_params: dict = XGB_PARAMS) -> dict:
    """Every candidate: grouped-CV macro-F1 (folds by source), train and held-out macro-F1, timing.

    y are integer class codes. The held-out score is of the model fitted on all of X.
    """
    from sklearn.model_selection import GroupKFold
    results = {}
    folds = list(GroupKFold(n_splits=CV_FOLDS).split(X, y, groups))
    for name, make in candidates(seed, n_jobs, xgb_params).items():
        start = time.perf_counter()
        scores = []
        for train_idx, test_idx in folds:
            model = make().fit(X[train_idx], y[train_idx])
            scores.append(_macro_f1(y[test_idx], model.predict(X[test_idx])))
        model = make().fit(X, y)
        single_ms, batch_us = _time_per_frame(model, X_held if len(X_held) else X)
        results[name] = {
            "cv_macro_f1": float(np.mean(scores)), "cv_macro_f1_std": float(np.std(scores)),
            "train_macro_f1": _macro_f1(y, model.predict(X)),
            "held_out_macro_f1": _macro_f1(y_held, model.predict(X_held)) if len(X_held) else None,
            "ms_per_single_frame": single_ms, "us_per_frame_batch": batch_us,
            "seconds": time.perf_counter() - start,
        }
        logger.info("%s: %s", name, {k: round(v, 3) for k, v in results[name].items() if v is not None})
        if progress:
            progress(1)
    return results


def onehot(exercises, names=COUNTED) -> np.ndarray:
    out = np.zeros((len(exercises), len(names)), np.float32)
    for i, e in enumerate(exercises):
        if e in names:
            out[i, names.index(e)] = 1.0
    return out


def fit_level2(X: np.ndarray, exercises: np.ndarray, phases: np.ndarray, seed: int,
               per_class: int = KNN_PER_CLASS, k: int = KNN_K, weight: float = KNN_ONEHOT_WEIGHT) -> PhaseKnn:
    """The kNN of level 2: a balanced sample of rows per (exercise, phase), standardised features."""
    rng = np.random.default_rng(seed)
    keys = np.array([f"{e}/{p}" for e, p in zip(exercises, phases)], object)
    idx = balanced_sample(keys, per_class, rng)
    labels = np.array([PHASE_CLASSES.index(p) for p in phases[idx]])
    return PhaseKnn.from_rows(X[idx], exercises[idx], labels, COUNTED, weight, k)
