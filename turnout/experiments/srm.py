"""Sample-ratio mismatch, tested sequentially so that looking at every report is safe.

The sequential multinomial test of Lindon & Malek ("Anytime-valid inference for multinomial
count data", NeurIPS 2022): under "users split by the expected shares θ", the Bayes factor
of a Dirichlet(K θ) mixture over the shares against θ itself,

    BF = Γ(K) / Γ(K + n) · Π Γ(K θᵢ + xᵢ) / Γ(K θᵢ) / Π θᵢ^xᵢ,

is a martingale in the users counted so far (a function of the current counts only), so by
Ville's inequality the chance it *ever* exceeds 1/alpha is at most alpha. The always-valid p-value
is min(1, 1/BF); its running minimum over looks is kept in the report's state.

K sets where the test is most powerful: the mixture's shares spread around θ by about
√(θ(1 - θ) / K), i.e. ±1.6 points on a 50/50 split at K = 1,000 — the size of real
assignment bugs (51/49 at 100,000 users: p = 2.5e-8, where a chi-square, valid at one
look only, gives 2.5e-10).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from turnout.experiments.statistics import Array

TEST_NAME = "sequential multinomial (Dirichlet mixture, Lindon & Malek 2022)"
CONCENTRATION = 1000.0


def always_valid_p(
    counts: Sequence[int] | Array, shares: Sequence[float], concentration: float = CONCENTRATION
) -> Array:
    """The always-valid p-value of the counts per variant against the expected shares.

    `counts` may be an array whose last axis is the variants (many experiments at once).
    """
    from scipy import special

    x = np.asarray(counts, dtype=np.float64)
    theta = np.asarray(shares, dtype=np.float64)
    theta = theta / theta.sum()
    prior = concentration * theta
    n = x.sum(axis=-1)
    log_bf = (
        special.gammaln(concentration)
        - special.gammaln(concentration + n)
        + np.sum(special.gammaln(prior + x) - special.gammaln(prior) - x * np.log(theta), axis=-1)
    )
    return np.asarray(np.minimum(1.0, np.exp(-np.maximum(log_bf, 0.0))))
