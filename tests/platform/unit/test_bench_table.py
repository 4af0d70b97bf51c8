"""bench/run reads wrk's report and builds its ratios correctly (no server, no load)."""

from __future__ import annotations

import importlib.util
import sys

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("bench_pages", ROOT / "bench" / "bench_pages.py")
bench = importlib.util.module_from_spec(spec)
sys.modules["bench_pages"] = bench  # dataclasses look their module up
spec.loader.exec_module(bench)

WRK_REPORT = """Running 5s test @ http://127.0.0.1:40000/agent/queue
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    40.12ms   10.01ms 1.20s    90.00%
  Latency Distribution
     50%   38.50ms
     75%   45.00ms
     90%   60.00ms
     99%    1.20s
  500 requests in 5.00s, 1.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:    100.25
Transfer/sec:    200.00KB
"""


def test_the_wrk_report_gives_rate_percentiles_in_ms_and_errors():
    assert bench.parse_wrk(WRK_REPORT) == (100.25, 38.5, 1200.0, 7)
    assert bench.parse_wrk(WRK_REPORT.replace("38.50ms", "850.00us").replace("  Socket errors: connect 0, read 1, write 0, timeout 2\n", "")) == (100.25, 0.85, 1200.0, 4)


def test_the_table_gives_ratios_to_hello_to_the_smallest_size_and_to_the_peer():
    R = bench.Result
    results = [
        R("opiekun", "sqlite", 10_000, "agent queue", 100.0, 10.0, 20.0, 0),
        R("peer", "sqlite", 10_000, "list data", 20.0, 50.0, 90.0, 0),
        R("opiekun", "sqlite", 1_000_000, "agent queue", 80.0, 13.0, 30.0, 3),
        R("peer", "sqlite", 1_000_000, "list data", 2.0, 500.0, 900.0, 0),
    ]
    rows = {line.split(" | ")[2] + "@" + line.split(" | ")[1]: line for line in bench.table(results, R("hello", "-", 0, "hello", 5000.0, 0.5, 1.0, 0)).splitlines()[2:]}
    assert rows["agent queue@10,000"] == "| sqlite | 10,000 | agent queue | 100.0 | 10.0 | 20.0 | 0.0200 |  | 5.00 |  |"
    assert rows["agent queue@1,000,000"] == "| sqlite | 1,000,000 | agent queue | 80.0 | 13.0 | 30.0 | 0.0160 | 1.30 (1M/10k) | 40.00 | 3 |"
    assert "| 10.00 (1M/10k) |" in rows["django-helpdesk: list data@1,000,000"]


def test_a_page_slower_than_the_run_shows_no_percentiles_and_no_ratio_to_a_peer_that_finished_nothing():
    report = WRK_REPORT.replace("500 requests in", "0 requests in").replace("100.25", "0.00")
    rps, p50, p99, _errors = bench.parse_wrk(report)
    assert rps == 0.0 and p50 != p50 and p99 != p99  # NaN
    R = bench.Result
    results = [R("opiekun", "sqlite", 10_000, "manager home", 100.0, 10.0, 20.0, 0),
               R("peer", "sqlite", 10_000, "dashboard", rps, p50, p99, 0)]
    lines = bench.table(results, R("hello", "-", 0, "hello", 5000.0, 0.5, 1.0, 0)).splitlines()
    assert lines[2].endswith("| peer: none finished |  |")
    assert lines[3] == "| sqlite | 10,000 | django-helpdesk: dashboard | 0.0 | - | - | 0.0000 |  |  |  |"


def test_the_flatness_table_shows_how_many_queue_rows_each_size_rendered():
    R = bench.Result
    results = [
        R("opiekun", "postgresql", 10_000, "queue: priority urgent", 200.0, 10.0, 20.0, 0, 24),
        R("opiekun", "postgresql", 1_000_000, "queue: priority urgent", 150.0, 14.0, 30.0, 0, 50),
        R("opiekun", "postgresql", 10_000, "manager home", 200.0, 10.0, 20.0, 0),
        R("opiekun", "postgresql", 1_000_000, "manager home", 200.0, 11.0, 20.0, 0),
    ]
    text, ok = bench.flatness(results, 1.3)
    lines = text.splitlines()
    assert "| rows small / big |" in lines[0]
    assert "| queue: priority urgent | 10.0 | 14.0 | 1.40 (1M/10k) | 24 / 50 | NO |" in text
    assert "| manager home | 10.0 | 11.0 | 1.10 (1M/10k) |  | yes |" in text
    assert not ok


def test_the_probe_counts_the_rows_of_a_queue_page_only(monkeypatch):
    class Answer:
        status_code = 200
        headers: dict[str, str] = {}
        text = '<table><tr data-ticket="1"><td></td></tr><tr data-ticket="2"></tr></table>'

    monkeypatch.setattr(bench.requests, "request", lambda *args, **kwargs: Answer())
    assert bench.probe("http://127.0.0.1:1/agent/queue?priority=urgent", method="GET", body="", headers={}) == 2
    assert bench.probe("http://127.0.0.1:1/manager/", method="GET", body="", headers={}) is None
