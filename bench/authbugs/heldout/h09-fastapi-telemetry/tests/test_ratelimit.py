from ingest.ratelimit import TokenBucket


def test_bucket_refuses_when_empty_and_refills():
    bucket = TokenBucket(rate_per_second=1, burst=2)
    assert bucket.allow("c", now=0.0)
    assert bucket.allow("c", now=0.0)
    assert not bucket.allow("c", now=0.0)
    assert bucket.allow("c", now=1.5)
