"""One-row LightGBM prediction through the C API's fast path.

``Booster.predict`` costs about 30 us per row, almost all of it Python: argument checks, a
parameter-dict deepcopy and a fresh predictor set-up. LightGBM's C API keeps a prepared
single-row predictor (``LGBM_BoosterPredictForMatSingleRowFast``) that scores one row in a few
microseconds; the scoring path uses it, batch scoring keeps ``Booster.predict``.
"""

from __future__ import annotations

import ctypes
import threading
import weakref

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from lightgbm import basic

#: LightGBM's ctypes handle on its shared library (not re-exported for type checkers).
_LIB: ctypes.CDLL = getattr(basic, "_LIB")  # noqa: B009
_PREDICT_NORMAL = 0  # probability for a binary objective, as Booster.predict returns
_DTYPE_FLOAT64 = 1


class SingleRowPredictor:
    """Scores one float64 row at a time; safe to share between threads."""

    def __init__(self, booster: lgb.Booster, n_features: int) -> None:
        self._booster = booster  # the fast config points into it: keep it alive
        self._n_features = n_features
        self._config = ctypes.c_void_p()
        basic._safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(_PREDICT_NORMAL),
                ctypes.c_int(0),  # start iteration
                ctypes.c_int(-1),  # all iterations (the best one was kept at training)
                ctypes.c_int(_DTYPE_FLOAT64),
                ctypes.c_int32(n_features),
                basic._c_str("num_threads=1"),
                ctypes.byref(self._config),
            )
        )
        # The fast config owns one output buffer: one caller at a time.
        self._lock = threading.Lock()
        self._out = np.zeros(1, dtype=np.float64)
        self._out_ptr = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self._out_len = ctypes.c_int64(0)
        weakref.finalize(self, _LIB.LGBM_FastConfigFree, self._config)

    def predict(self, vector: npt.NDArray[np.float64]) -> float:
        row = np.ascontiguousarray(vector, dtype=np.float64)
        if row.shape != (self._n_features,):
            raise ValueError(f"expected {self._n_features} features, got shape {row.shape}")
        with self._lock:
            basic._safe_call(
                _LIB.LGBM_BoosterPredictForMatSingleRowFast(
                    self._config,
                    row.ctypes.data_as(ctypes.c_void_p),
                    ctypes.byref(self._out_len),
                    self._out_ptr,
                )
            )
            return float(self._out[0])
