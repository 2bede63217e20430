"""The cached downloader against a local HTTP server: caching, retries with back-off, truncation, checksums."""

import hashlib

import pytest

from cic import download
from cic.download import DownloadError, DownloadSettings, describe_failures, fetch, fetch_all
from local_http import http_server  # noqa: F401 (a fixture)

FAST = DownloadSettings(workers=3, retries=2, backoff_seconds=0.01, timeout_seconds=5)
BODY = b"probe\tvalue\n" + b"x" * 5000


def _files(folder):
    """Everything in the cache folder, temporary files included."""
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_download_then_cache_hit(http_server, tmp_path):
    url = http_server.add("/data.txt", BODY)
    destination = tmp_path / "cache" / "data.txt"
    assert fetch(url, destination, FAST) is True
    assert destination.read_bytes() == BODY
    assert fetch(url, destination, FAST) is False  # a re-run downloads nothing
    assert http_server.count("/data.txt") == 1


def test_server_failing_twice_then_answering_is_retried_with_exponential_backoff(http_server, tmp_path,
                                                                                  monkeypatch):
    waits = []
    monkeypatch.setattr(download.time, "sleep", waits.append)
    url = http_server.add("/flaky.txt", BODY, fail_first=2)
    settings = DownloadSettings(workers=1, retries=3, backoff_seconds=0.5, timeout_seconds=5)
    assert fetch(url, tmp_path / "flaky.txt", settings) is True
    assert (tmp_path / "flaky.txt").read_bytes() == BODY
    assert http_server.count("/flaky.txt") == 3
    assert waits == [0.5, 1.0]


def test_giving_up_after_the_retries_leaves_nothing(http_server, tmp_path):
    url = http_server.add("/down.txt", BODY, fail_first=100)
    with pytest.raises(DownloadError, match=r"HTTP 503 .*gave up after 3 attempts"):
        fetch(url, tmp_path / "cache" / "down.txt", FAST)
    assert http_server.count("/down.txt") == 3
    assert _files(tmp_path / "cache") == []


def test_truncated_download_is_detected_retried_and_never_cached(http_server, tmp_path):
    # Truncated once: the retry gets the whole file.
    url = http_server.add("/once.txt", BODY, truncate_first=1)
    assert fetch(url, tmp_path / "cache" / "once.txt", FAST) is True
    assert (tmp_path / "cache" / "once.txt").read_bytes() == BODY
    # Truncated every time: a clear error and no partial file in the cache.
    url = http_server.add("/always.txt", BODY, truncate_first=100)
    with pytest.raises(DownloadError, match=rf"truncated: received {len(BODY) // 2} of {len(BODY)} bytes "
                                            r"\(gave up after 3 attempts\)"):
        fetch(url, tmp_path / "cache" / "always.txt", FAST)
    assert _files(tmp_path / "cache") == ["once.txt"]


def test_not_found_is_not_retried(http_server, tmp_path):
    with pytest.raises(DownloadError, match=r"HTTP 404 Not Found$"):
        fetch(http_server.url("/missing.txt"), tmp_path / "missing.txt", FAST)
    assert http_server.count("/missing.txt") == 1


def test_checksum_mismatch_is_an_error_and_deletes_the_file(http_server, tmp_path):
    url = http_server.add("/object.rda", BODY)
    right = hashlib.sha256(BODY).hexdigest()
    wrong = "0" * 64
    destination = tmp_path / "cache" / "object.rda"
    with pytest.raises(DownloadError, match=rf"sha256 mismatch \(expected {wrong}, got {right}\); the downloaded "
                                            r"file was deleted"):
        fetch(url, destination, FAST, sha256=wrong)
    assert _files(tmp_path / "cache") == []
    assert http_server.count("/object.rda") == 1  # a wrong checksum is not a transient failure

    assert fetch(url, destination, FAST, sha256=right.upper()) is True
    assert fetch(url, destination, FAST, sha256=right) is False  # verified cache hit
    # A corrupt cached copy is replaced.
    destination.write_bytes(b"corrupt")
    assert fetch(url, destination, FAST, sha256=right) is True
    assert destination.read_bytes() == BODY


def test_content_check_rejects_an_error_page(http_server, tmp_path):
    url = http_server.add("/page.txt", "<html>no such record</html>")

    def must_be_soft(path):
        if not path.read_text().startswith("^SAMPLE"):
            raise DownloadError("not a SOFT record")

    with pytest.raises(DownloadError, match="not a SOFT record"):
        fetch(url, tmp_path / "page.txt", FAST, validate=must_be_soft)
    assert not (tmp_path / "page.txt").exists()


def test_fetch_all_downloads_in_parallel_and_reports_every_failure(http_server, tmp_path):
    jobs = {}
    for index in range(6):
        if index not in (1, 4):
            http_server.add(f"/f{index}", f"file {index}", fail_first=1 if index == 2 else 0)
        jobs[f"K{index}"] = (http_server.url(f"/f{index}"), tmp_path / f"f{index}")
    failures = fetch_all(jobs, FAST, description="test files")
    assert list(failures) == ["K1", "K4"]  # in the order asked for, all of them
    assert describe_failures(failures) == "K1 (HTTP 404 Not Found), K4 (HTTP 404 Not Found)"
    assert sorted(_files(tmp_path)) == ["f0", "f2", "f3", "f5"]
    # Second round: everything good is cached.
    before = http_server.count()
    fetch_all({k: v for k, v in jobs.items() if k not in failures}, FAST)
    assert http_server.count() == before
