"""The statistics behind the claim checks: binomial intervals and the rank test of a trend."""
import math
from itertools import permutations

import numpy as np
import pytest

from starconn import stats


def test_binomial_interval_covers_at_least_its_confidence():
    rng = np.random.default_rng(0)
    for p, n in [(0.3, 40), (0.995, 500), (0.02, 200)]:
        k = rng.binomial(n, p, size=3000)
        inside = [lo <= p <= hi for lo, hi in (stats.binomial_interval(int(x), n, 0.9) for x in k)]
        assert np.mean(inside) >= 0.9 - 0.015  # Clopper–Pearson is conservative


def test_binomial_interval_edges_and_errors():
    assert stats.binomial_interval(0, 10)[0] == 0.0 and stats.binomial_interval(10, 10)[1] == 1.0
    lo, hi = stats.binomial_interval(5, 10, 0.95)
    assert lo < 0.5 < hi
    with pytest.raises(ValueError, match="0 <= k <= n"):
        stats.binomial_interval(11, 10)


def test_min_p_value_is_the_share_of_permutations_reaching_the_extreme():
    x = [1, 1, 2, 2, 2, 3]
    y = np.arange(6.0)[::-1]  # perfectly decreasing
    xa = np.array(x, dtype=float)
    i, j = np.triu_indices(6, 1)

    def S(yy):
        return np.sum(np.sign(xa[j] - xa[i]) * np.sign(yy[j] - yy[i]))

    hits = sum(S(y[list(p)]) <= S(y) for p in permutations(range(6)))
    assert stats.min_p_value(x) == pytest.approx(hits / math.factorial(6))
    assert stats.trend_test(x, y)["p_value"] == pytest.approx(hits / math.factorial(6))


def test_trend_test_direction_and_monte_carlo():
    x = np.repeat([8, 16, 32, 64], 3)
    rng = np.random.default_rng(1)
    falling = 1 + 1 / np.sqrt(x) + 0.01 * rng.standard_normal(12)
    t = stats.trend_test(x, falling)
    assert t["tau"] < -0.5 and t["p_value"] < 1e-3 and t["min_p_value"] < 1e-5
    assert stats.trend_test(x, falling, decreasing=False)["p_value"] > 0.99
    noise = rng.standard_normal(12)
    assert stats.trend_test(x, noise)["p_value"] > 0.01
    assert stats.trend_test([1, 1], [2, 3])["p_value"] == 1.0  # one width: nothing to test


def test_trend_metrics_leave_the_verdict_out_when_the_design_cannot_reach_alpha():
    m = stats.trend_metrics([8, 32], [1.3, 1.1], "ngd", alpha=0.01)
    assert "ngd_decreasing" not in m and m["ngd_trend_min_p"] == pytest.approx(0.5)
    y = [1.3, 1.31, 1.29, 1.2, 1.21, 1.19, 1.1, 1.11, 1.09]
    m = stats.trend_metrics(np.repeat([8, 32, 128], 3), y, "ngd", 0.01)
    assert m["ngd_decreasing"] is True
