"""Duration histograms with fixed log-scale buckets, so histograms of any rows add up
and percentiles come out of the sum.

Bucket 0 holds everything under a second; bucket ``b >= 1`` holds
``[2 ** ((b - 1) / 8), 2 ** (b / 8))`` seconds: eight buckets per doubling. Each bucket
keeps its count and the sum of its values in whole milliseconds (integers, so sums are
exact in any order), and a percentile reads as the mean of the bucket it falls in: exact
when the bucket holds one value, and never further off than the bucket is wide (9 %).
Histograms are stored sparse as JSON objects ``{"bucket": [count, sum_ms]}``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

PER_DOUBLING = 8
TOP = 20 * PER_DOUBLING + 1  # 2 ** 20 s, twelve days: longer is the last bucket

Histogram = dict[str, list[int]]


def bucket_of(seconds: float) -> int:
    if seconds < 1:
        return 0
    return min(math.floor(math.log2(seconds) * PER_DOUBLING) + 1, TOP)


def histogram(values: Iterable[float]) -> Histogram:
    total: dict[int, list[int]] = {}
    for value in values:
        cell = total.setdefault(bucket_of(value), [0, 0])
        cell[0] += 1
        cell[1] += round(value * 1000)
    return {str(b): cell for b, cell in sorted(total.items())}


def add(total: dict[int, list[int]], hist: Mapping[str, list[int]] | None) -> dict[int, list[int]]:
    """Add a stored histogram into ``total`` (integer keys) in place."""
    for key, (n, ms) in (hist or {}).items():
        cell = total.setdefault(int(key), [0, 0])
        cell[0] += n
        cell[1] += ms
    return total


def merged(hists: Iterable[Mapping[str, list[int]] | None]) -> Histogram:
    total: dict[int, list[int]] = {}
    for hist in hists:
        add(total, hist)
    return {str(b): cell for b, cell in sorted(total.items())}


def count(hist: Mapping) -> int:
    return sum(n for n, _ in hist.values())


def percentile_bucket(hist: Mapping, q: float) -> int | None:
    """The bucket the nearest-rank ``q`` percentile falls in. The percentile of a sum of
    histograms falls in a bucket between the smallest and the largest of the parts'."""
    total = count(hist)
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for b in sorted(hist, key=int):
        seen += hist[b][0]
        if seen >= rank:
            return int(b)
    return None


def percentiles(hist: Mapping, *qs: float) -> list[float | None]:
    """Several nearest-rank percentiles of one histogram, in one walk over its buckets."""
    total = count(hist)
    if not total:
        return [None] * len(qs)
    ranks = [max(1, math.ceil(q * total)) for q in qs]
    found: list[float | None] = [None] * len(qs)
    seen = 0
    for b in sorted(hist, key=int):
        n, ms = hist[b]
        seen += n
        for i, rank in enumerate(ranks):
            if found[i] is None and seen >= rank:
                found[i] = round(ms / n / 1000, 1)
        if all(v is not None for v in found):
            break
    return found


def percentile(hist: Mapping, q: float) -> float | None:
    """The nearest-rank ``q`` percentile (0 < q <= 1) of a histogram, or None if empty."""
    total = count(hist)
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for b in sorted(hist, key=int):
        n, ms = hist[b]
        seen += n
        if seen >= rank:
            return round(ms / n / 1000, 1)
    return None  # unreachable: the counts add up to the total


def exact_percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of a short list (spells, deployments), no buckets."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]
