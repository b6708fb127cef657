"""The two-level classifier: level 1 XGBoost names the exercise (incl. "none") from a window of motion
(services/classifier/recognizer.py), level 2 kNN the start/end phase of a frame given that exercise."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from common.exercises import END, NONE, START, is_hold
from common.features import FEATURE_NAMES, NUM_FEATURES


METADATA_FILE = "metadata.json"
LEVEL1_FILE = "window_xgboost.json"        # and its own window_metadata.json (services/classifier/recognizer.py)
LEVEL2_FILE = "level2_knn.npz"
PHASE_CLASSES = (START, END)   # level-2 label order: 0 = start, 1 = end
_CHUNK = 512                   # rows per kNN distance block: bounds memory on long batches


class ModelMissing(FileNotFoundError):
    """A model file is absent: the models must be (re)built."""


class PhaseKnn:
    """Level 2: k nearest neighbours over standardised features plus the exercise one-hot.

    The training matrix is stored, not a pickled estimator: loading is just reading arrays, and prediction
    is a few numpy operations (a small matrix, so brute force is the fastest exact search).
    """

    def __init__(self, matrix: np.ndarray, labels: np.ndarray, mean: np.ndarray, scale: np.ndarray,
                 exercises: list[str], onehot_weight: float, k: int):
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.scale = np.asarray(scale, dtype=np.float32)
        self.exercises = list(exercises)
        self.onehot_weight = float(onehot_weight)
        self.k = int(min(k, len(self.labels)))
        # Distances in float64 (exact neighbour order), with the transposed matrix made once, not per frame.
        self._matrix_t = np.ascontiguousarray(self.matrix.T, dtype=np.float64)
        self._sq_norms = (self._matrix_t ** 2).sum(axis=0)

    @classmethod
    def load(cls, path: Path) -> "PhaseKnn":
        z = np.load(path, allow_pickle=False)
        return cls(z["matrix"], z["labels"], z["mean"], z["scale"], [str(e) for e in z["exercises"]],
                   float(z["onehot_weight"]), int(z["k"]))

    def save(self, path: Path) -> None:
        np.savez_compressed(path, matrix=self.matrix, labels=self.labels.astype(np.int8), mean=self.mean,
                            scale=self.scale, exercises=np.array(self.exercises), onehot_weight=self.onehot_weight,
                            k=self.k)

    @classmethod
    def from_rows(cls, feats: np.ndarray, exercises, labels: np.ndarray, exercise_names: list[str],
                  onehot_weight: float, k: int) -> "PhaseKnn":
        """'Fitting' a kNN: standardise the features and keep the rows."""
        feats = np.asarray(feats, dtype=np.float32)
        mean, scale = feats.mean(axis=0), feats.std(axis=0) + 1e-6
        matrix = _encode(feats, exercises, mean, scale, exercise_names, onehot_weight)
        return cls(matrix, labels, mean, scale, exercise_names, onehot_weight, k)

    def encode(self, feats: np.ndarray, exercises) -> np.ndarray:
        """[N, 32] features and N exercise names -> [N, 32 + len(exercises)] rows of the kNN space."""
        return _encode(feats, exercises, self.mean, self.scale, self.exercises, self.onehot_weight)

    def predict(self, feats: np.ndarray, exercises) -> tuple[np.ndarray, np.ndarray]:
        """-> (label index [N], share of neighbours voting for it [N])."""
        rows = self.encode(feats, exercises)
        labels = np.empty(len(rows), np.int64)
        conf = np.empty(len(rows), np.float32)
        for start in range(0, len(rows), _CHUNK):
            block = rows[start:start + _CHUNK].astype(np.float64)
            d = self._sq_norms[None, :] - 2.0 * block @ self._matrix_t
            nearest = np.argpartition(d, self.k - 1, axis=1)[:, :self.k]
            votes = self.labels[nearest]
            end_share = votes.mean(axis=1)   # labels are 0 = start, 1 = end
            labels[start:start + _CHUNK] = (end_share > 0.5).astype(np.int64)
            conf[start:start + _CHUNK] = np.where(end_share > 0.5, end_share, 1.0 - end_share)
        return labels, conf


def _encode(feats, exercises, mean, scale, exercise_names: list[str], onehot_weight: float) -> np.ndarray:
    feats = np.asarray(feats, dtype=np.float32).reshape(-1, NUM_FEATURES)
    onehot = np.zeros((len(feats), len(exercise_names)), np.float32)
    for i, name in enumerate(exercises):
        if name in exercise_names:
            onehot[i, exercise_names.index(name)] = onehot_weight
    return np.concatenate([(feats - mean) / scale, onehot], axis=1).astype(np.float32)


class Cascade:
    """Both levels and their metadata, loaded once per process and shared by every session."""

    def __init__(self, window_model: tuple, knn: PhaseKnn, metadata: dict):
        self.window_model = window_model   # (XGBoost booster, window metadata): one WindowRecognizer per session
        self.knn = knn
        self.metadata = metadata

    @classmethod
    def load(cls, models_dir: str | Path) -> "Cascade":
        from services.classifier.recognizer import METADATA_FILE as WINDOW_METADATA_FILE
        from services.classifier.recognizer import load_model
        models_dir = Path(models_dir)
        for name in (METADATA_FILE, LEVEL1_FILE, WINDOW_METADATA_FILE, LEVEL2_FILE):
            if not (models_dir / name).is_file():
                raise ModelMissing(f"model file {models_dir / name} is missing; build the models with "
                                   f"`fitness-trainer train`")
        metadata = json.loads((models_dir / METADATA_FILE).read_text())
        if list(metadata["feature_names"]) != FEATURE_NAMES:
            raise ValueError(f"{models_dir / METADATA_FILE}: models were trained on other features; "
                             f"rebuild them with `fitness-trainer train`")
        return cls(load_model(models_dir), PhaseKnn.load(models_dir / LEVEL2_FILE), metadata)

    def phase(self, feats: np.ndarray, exercises) -> tuple[np.ndarray, np.ndarray]:
        """Level 2 for given exercises -> (phase [N] object, confidence [N]); '' for 'none' and holds."""
        feats = np.asarray(feats, dtype=np.float32).reshape(-1, NUM_FEATURES)
        exercises = np.asarray(exercises, dtype=object).reshape(-1)
        phase = np.full(len(feats), "", dtype=object)
        conf = np.zeros(len(feats), np.float32)
        counted = np.array([e != NONE and not is_hold(e) for e in exercises], bool)
        if counted.any():
            labels, share = self.knn.predict(feats[counted], exercises[counted])
            phase[counted] = np.array(PHASE_CLASSES, dtype=object)[labels]
            conf[counted] = share
        return phase, conf
