"""Log-scale histograms: they add up in any order, and a percentile reads as the mean
of the bucket the rank falls in."""

from dashboard.insights import buckets
from dashboard.templatetags.insights_tags import seconds


def test_values_in_one_bucket_read_as_their_mean():
    assert buckets.bucket_of(100) == buckets.bucket_of(104)
    hist = buckets.histogram([100, 104, 3000])
    assert buckets.percentile(hist, 0.5) == 102.0  # 2nd of 3 falls in the bucket of 100 and 104
    assert buckets.percentile(hist, 0.95) == 3000.0


def test_histograms_add_up_in_any_order():
    a, b, c = buckets.histogram([1.5, 60, 61]), buckets.histogram([0.2, 60]), buckets.histogram([7200])
    assert buckets.merged([a, b, c]) == buckets.merged([c, a, b]) == buckets.histogram([1.5, 60, 61, 0.2, 60, 7200])
    assert buckets.count(buckets.merged([a, b, c])) == 6


def test_a_percentile_is_never_further_off_than_its_bucket_is_wide():
    values = [37 * 1.07**i for i in range(100)]  # 37 s to 8 h
    hist = buckets.histogram(values)
    for q in (0.5, 0.9, 0.95, 0.99):
        exact = buckets.exact_percentile(values, q)
        assert abs(buckets.percentile(hist, q) - exact) <= exact * (2 ** (1 / 8) - 1)


def test_an_empty_histogram_has_no_percentile():
    assert buckets.percentile({}, 0.5) is None
    assert buckets.exact_percentile([], 0.5) is None


def test_durations_read_like_people_say_them():
    assert [seconds(v) for v in (None, 0, 0.4, 45, 130, 420, 3900, 93600)] == [
        "—",
        "0 s",
        "< 1 s",
        "45 s",
        "2 m 10 s",
        "7 m",
        "1 h 5 m",
        "1 d 2 h",
    ]


def test_several_percentiles_in_one_walk_match_one_at_a_time():
    hist = buckets.histogram([3, 5, 8, 13, 21, 34, 55, 89, 144, 233])
    qs = (0.1, 0.5, 0.9, 0.95, 1.0)
    assert buckets.percentiles(hist, *qs) == [buckets.percentile(hist, q) for q in qs]
    assert buckets.percentiles({}, 0.5, 0.95) == [None, None]
