"""Training metrics in the shape AFD reports them, so analysts can pick thresholds from them."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

#: Score thresholds of the threshold table (AFD's console showed one row per threshold).
TABLE_THRESHOLDS: tuple[int, ...] = (
    *range(0, 900, 50),
    *range(900, 990, 10),
    *range(990, 1001, 2),
)


def recall_at_fpr(y: npt.NDArray[np.int_], raw: npt.NDArray[np.float64], fpr: float) -> float:
    """The best true positive rate with a false positive rate at most ``fpr``."""
    fprs, tprs, _ = roc_curve(y, raw)
    ok = fprs <= fpr
    return float(tprs[ok].max()) if ok.any() else 0.0


def threshold_table(
    y: npt.NDArray[np.int_], scores: npt.NDArray[np.int64]
) -> list[dict[str, float]]:
    """For each score threshold: TPR, FPR and precision of flagging ``score >= threshold``."""
    pos = max(int(y.sum()), 1)
    neg = max(int((1 - y).sum()), 1)
    order = np.sort(scores)
    rows = []
    for t in TABLE_THRESHOLDS:
        flagged = scores >= t
        tp = int((flagged & (y == 1)).sum())
        fp = int((flagged & (y == 0)).sum())
        rows.append(
            {
                "threshold": float(t),
                "tpr": tp / pos,
                "fpr": fp / neg,
                "precision": tp / (tp + fp) if tp + fp else 1.0,
                "flagged_share": float(1 - np.searchsorted(order, t) / max(order.size, 1)),
            }
        )
    return rows


def score_histogram(scores: npt.NDArray[np.int64], bins: int = 20) -> list[int]:
    counts, _ = np.histogram(scores, bins=bins, range=(0, 1000))
    return [int(c) for c in counts]


def evaluate(
    y: npt.NDArray[np.int_], raw: npt.NDArray[np.float64], scores: npt.NDArray[np.int64]
) -> dict[str, Any]:
    """AUC, PR-AUC, recall at fixed FPRs, the threshold table and score distributions."""
    if y.min() == y.max():
        raise ValueError("evaluation needs both fraud and legitimate events")
    return {
        "auc": float(roc_auc_score(y, raw)),
        "pr_auc": float(average_precision_score(y, raw)),
        "recall_at_fpr": {
            "0.5%": recall_at_fpr(y, raw, 0.005),
            "1%": recall_at_fpr(y, raw, 0.01),
            "5%": recall_at_fpr(y, raw, 0.05),
        },
        "events": int(y.size),
        "fraud_events": int(y.sum()),
        "threshold_table": threshold_table(y, scores),
        "score_histogram": {
            "fraud": score_histogram(scores[y == 1]),
            "legit": score_histogram(scores[y == 0]),
        },
    }
