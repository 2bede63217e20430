"""Cached HTTP downloads with retries, exponential back-off, integrity checks and a bounded worker pool.

A file is downloaded into a temporary file beside its destination (:func:`cic.io.atomic_path`) and renamed into the
cache only when it is complete: its size matches the server's ``Content-Length``, its sha256 matches (when one is
given) and an optional content check passes. So an interrupted or truncated download never leaves a partial file in
the cache, and a file that is in the cache is never downloaded again.

Transient failures (connection errors, time-outs, HTTP 408/429/5xx, truncated bodies) are retried with
exponential back-off; permanent ones (other HTTP 4xx such as 404, a wrong checksum, a failed content check) are not.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from cic import __version__
from cic.io import atomic_path

log = logging.getLogger(__name__)

USER_AGENT = f"cic-workflow/{__version__} (python urllib)"
CHUNK_BYTES = 1 << 20
RETRYABLE_HTTP_STATUS = {408, 429, 500, 502, 503, 504}


class DownloadError(Exception):
    """A download that failed for good; the message is short (it is listed with others in one line)."""


class TransientDownloadError(DownloadError):
    """A failure worth another attempt: connection problems, server errors, a truncated body."""


@dataclass(frozen=True)
class DownloadSettings:
    workers: int = 4  # parallel downloads in fetch_all
    retries: int = 3  # further attempts after a transient failure
    backoff_seconds: float = 2.0  # wait before retry k: backoff_seconds * 2 ** (k - 1)
    timeout_seconds: float = 60.0  # per connection attempt and per read

    @classmethod
    def from_config(cls, download: dict) -> "DownloadSettings":
        return cls(workers=download["workers"], retries=download["retries"],
                   backoff_seconds=download["backoff_seconds"], timeout_seconds=download["timeout_seconds"])


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download_once(url: str, tmp: Path, label: str, timeout: float, show_progress: bool) -> str:
    """One attempt: stream ``url`` into ``tmp``; returns the sha256 of what was written."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        problem = f"HTTP {error.code} {error.reason}".strip()
        if error.code in RETRYABLE_HTTP_STATUS:
            raise TransientDownloadError(problem) from error
        raise DownloadError(problem) from error
    except (urllib.error.URLError, OSError) as error:  # refused, reset, DNS, time-out
        reason = getattr(error, "reason", error)
        raise TransientDownloadError(f"connection failed ({reason})") from error

    digest = hashlib.sha256()
    received = 0
    with response:
        length_header = response.headers.get("Content-Length")
        expected = int(length_header) if length_header and length_header.isdigit() else None
        bar = tqdm(total=expected, unit="B", unit_scale=True, desc=label,
                   disable=not show_progress, leave=False)
        try:
            with open(tmp, "wb") as handle, bar:
                while chunk := response.read(CHUNK_BYTES):
                    handle.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        except (http.client.IncompleteRead, OSError) as error:
            raise TransientDownloadError(f"connection broke after {received} bytes ({error})") from error
    # http.client stops quietly when the server closes early, so compare with the announced size ourselves.
    if expected is not None and received != expected:
        raise TransientDownloadError(f"truncated: received {received} of {expected} bytes")
    return digest.hexdigest()


def fetch(url: str, destination: str | Path, settings: DownloadSettings, sha256: str | None = None,
          validate: Callable[[Path], None] | None = None, show_progress: bool = False) -> bool:
    """Make sure ``destination`` holds the file at ``url``; returns True if it was downloaded, False if cached.

    ``validate(path)`` may raise :class:`DownloadError` to reject content (e.g. an error page served with status
    200); rejected or corrupt content is never kept. Raises :class:`DownloadError` when all attempts failed.
    """
    destination = Path(destination)
    if destination.exists():
        if sha256 is None or sha256_of(destination) == sha256.lower():
            return False
        # A stale or corrupt cached copy: delete it and fetch the file again.
        log.warning("%s: cached file does not match dataset sha256; downloading it again", destination)
        destination.unlink()

    attempts = settings.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            with atomic_path(destination) as tmp:
                actual = _download_once(url, tmp, destination.name, settings.timeout_seconds, show_progress)
                if sha256 is not None and actual != sha256.lower():
                    raise DownloadError(f"sha256 mismatch (expected {sha256.lower()}, got {actual}); "
                                        f"the downloaded file was deleted")
                if validate is not None:
                    validate(tmp)
            return True
        except TransientDownloadError as error:
            if attempt == attempts:
                raise TransientDownloadError(f"{error} (gave up after {attempts} attempts)") from error
            wait = settings.backoff_seconds * 2 ** (attempt - 1)
            log.info("%s: %s; retrying in %.3g s (attempt %d of %d)", url, error, wait, attempt + 1, attempts)
            time.sleep(wait)
    raise AssertionError("unreachable")


def fetch_all(jobs: dict[str, tuple[str, Path]], settings: DownloadSettings,
              validate: Callable[[str, Path], None] | None = None, description: str = "downloads") -> dict[str, str]:
    """Fetch many files in parallel (``settings.workers`` at a time) with a progress bar.

    ``jobs`` maps a key (e.g. an accession) to (url, destination). Every job is attempted even when others fail;
    returns {key: problem} for the failed ones (empty when all succeeded).
    """
    failures: dict[str, str] = {}
    downloaded = 0

    def run(key: str) -> bool:
        url, destination = jobs[key]
        check = (lambda path: validate(key, path)) if validate is not None else None
        return fetch(url, destination, settings, validate=check)

    with ThreadPoolExecutor(max_workers=max(1, settings.workers)) as pool, \
            tqdm(total=len(jobs), desc=description, unit="file") as bar:
        futures = {pool.submit(run, key): key for key in jobs}
        for future in as_completed(futures):
            key = futures[future]
            try:
                downloaded += bool(future.result())
            except DownloadError as error:
                failures[key] = str(error)
            bar.update(1)
    log.info("%s: %d downloaded, %d from the cache, %d failed", description, downloaded,
             len(jobs) - downloaded - len(failures), len(failures))
    return {key: failures[key] for key in jobs if key in failures}  # in the order asked for


def describe_failures(failures: dict[str, str]) -> str:
    """All failures on one line: 'GSM1 (HTTP 404 Not Found), GSM2 (truncated: ...)'."""
    return ", ".join(f"{key} ({problem})" for key, problem in failures.items())
