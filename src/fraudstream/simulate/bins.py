"""Card BINs: the issuer prefix every transaction carries.

A realistic mix of ~50 BINs: brand prefixes as issued (Visa 4, Mastercard 51-55 and 2221-2720,
American Express 34/37, Discover 6011/644-649/65), six digits plus a few of the eight-digit BINs
issuers moved to, weighted by brand share so popular BINs dominate as they do in real traffic.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

# fmt: off
_BRAND_BINS: dict[str, tuple[float, tuple[int, ...]]] = {
    "visa": (0.53, (
        414720, 426684, 440066, 453600, 421783, 431196, 446542, 476173, 410039, 434256,
        401795, 403766, 404159, 412451, 427138, 438857, 443040, 451014, 455021, 459500,
        465851, 471532, 480213, 486236, 491653, 45717360,
    )),
    "mastercard": (0.27, (
        542418, 517805, 531106, 546616, 520082, 512107, 522182, 527515, 536130, 540168,
        514876, 552433, 555426, 222300, 230577, 271011, 53123471,
    )),
    "amex": (0.12, (371449, 378282, 341142, 372888, 379763)),
    "discover": (0.08, (601100, 650070, 601120, 644564)),
}
# fmt: on

CARD_BINS: NDArray[np.int64] = np.array(
    [b for _, bins in _BRAND_BINS.values() for b in bins], dtype=np.int64
)


def _weights() -> NDArray[np.float64]:
    # Within a brand, a few big issuers dominate: Zipf-like weights in listed order.
    parts = []
    for share, bins in _BRAND_BINS.values():
        w = 1.0 / np.arange(1, len(bins) + 1) ** 0.8
        parts.append(share * w / w.sum())
    return np.concatenate(parts)


CARD_BIN_WEIGHTS: NDArray[np.float64] = _weights()


def draw_bins(rng: np.random.Generator, size: int) -> NDArray[np.int64]:
    """``size`` BINs drawn by market weight."""
    return CARD_BINS[rng.choice(len(CARD_BINS), size=size, p=CARD_BIN_WEIGHTS)]
