# SPDX-License-Identifier: GPL-3.0-or-later
"""The supervisor's HTTP endpoints (docs/fleet.md, "HTTP endpoints") on
worker.metrics_listen = 127.0.0.1:<free port>, with 2 OCR processes:

* GET /healthz: 200; GET /readyz: 200 once the children are connected; an
  unknown path: 404.
* GET /metrics parses as Prometheus text format 0.0.4 and, after N jobs:
  ocrq_jobs_total{outcome="succeeded"} == N, the ocrq_ocr_duration_seconds
  and ocrq_queue_wait_seconds histograms have _count == N and the documented
  buckets (cumulative, +Inf == _count), ocrq_children == 2, ocrq_jobs_in_flight
  == 0, ocrq_queue_ready_messages{queue="ocr.jobs"} is there, every
  documented family has a # TYPE line of the documented type, and one
  ocrq_child_rss_bytes series per child.
* The address taken: a second supervisor on it does not start (exit 2, a
  message naming the address and OCRQ_METRICS_LISTEN; issue 15, more in
  test_fleet_metrics_port), and the first one still answers.
* PostgreSQL stopped (scripts/services pg-stop) and a job arriving: /readyz
  answers 503 with a reason; after pg-start it is 200 again and the job
  succeeds. (Stops the shared PostgreSQL; always started again in a finally.)"""

import re
import time

import harness as h

N_JOBS = 6
BUCKETS = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "120", "300", "+Inf"]
TYPES = {"ocrq_jobs_total": "counter", "ocrq_ocr_duration_seconds": "histogram",
         "ocrq_queue_wait_seconds": "histogram", "ocrq_jobs_in_flight": "gauge",
         "ocrq_children": "gauge", "ocrq_child_restarts_total": "counter",
         "ocrq_reconnects_total": "counter", "ocrq_queue_ready_messages": "gauge",
         "ocrq_child_rss_bytes": "gauge"}


def get(port, path):
    return h.http_get(port, path)


def sum_range(buckets):
    """The least and the greatest sum that the observations counted in buckets
    ({le: cumulative count}) can have: each lies above the bound of the bucket
    below its own (0 for the first: seconds are not negative) and at most at its
    own (an observation in +Inf has no upper bound). A little slack for the
    rounding of a sum of doubles."""
    bounds = sorted(buckets, key=float)
    low = high = 0.0
    below, counted = 0.0, 0
    for le in bounds:
        k = buckets[le] - counted
        low += k * below
        high += k * float(le) if k else 0.0  # not inf * 0
        below, counted = float(le), buckets[le]
    return low - 1e-9, high + 1e-9


def check_histogram(t, metrics, name, n):
    buckets = {lab["le"]: v for lab, v in h.metric_series(metrics, name + "_bucket")}
    count = h.metric(metrics, name + "_count")
    total = h.metric(metrics, name + "_sum")
    t.check(count == n, f"{name}_count == {n}", count)
    low, high = sum_range(buckets)
    t.check(total is not None and low <= total <= high,
            f"{name}_sum lies within the bounds of the observations' buckets", (total, low, high))
    t.check(sorted(buckets, key=lambda b: float(b)) == sorted(BUCKETS, key=lambda b: float(b)),
            f"{name} has the documented buckets", sorted(buckets, key=lambda b: float(b)))
    values = [buckets[b] for b in sorted(buckets, key=lambda b: float(b))]
    t.check(values == sorted(values) and buckets.get("+Inf") == count,
            f"{name} buckets are cumulative and +Inf == _count", buckets)


def main(t):
    port = h.free_port()
    conf = h.fleet_config({"worker.processes": 2, "worker.metrics_listen": f"127.0.0.1:{port}"})
    w = h.start_worker(conf)
    h.wait_until(lambda: get(port, "/healthz")[0] == 200, timeout=60, ignore=(OSError,),
                 what="GET /healthz to answer 200")
    status, _, body = get(port, "/healthz")
    t.check(status == 200, "GET /healthz: 200", (status, body))
    kids = h.wait_children(w, 2)
    h.wait_until(lambda: get(port, "/readyz")[0] == 200, timeout=60,
                 what="GET /readyz to answer 200 once the children are connected")
    status, _, body = get(port, "/readyz")
    t.check(status == 200, "GET /readyz: 200 once connected", (status, body))
    status, _, body = get(port, "/no/such/path")
    t.check(status == 404, "GET of an unknown path: 404", (status, body))

    img = h.make_image("Metrics are counted\nper child slot", h.tmpdir() / "job.png")
    inputs = h.copies(img, N_JOBS)
    ids = [o["job_id"] for o in h.submit_json(inputs)]
    rows = h.wait_finished(ids, what=f"{N_JOBS} jobs")
    t.require(all(r["status"] == "succeeded" for r in rows), f"{N_JOBS} jobs succeeded",
              [(r["status"], r["error_code"]) for r in rows])

    status, ctype, text = get(port, "/metrics")
    t.check(status == 200, "GET /metrics: 200", status)
    t.check(ctype.startswith("text/plain") and "0.0.4" in ctype,
            "its Content-Type is text/plain; version=0.0.4", ctype)
    try:
        metrics, bad = h.parse_metrics(text), None
    except h.TestFailure as e:  # names the first line that does not parse
        metrics, bad = None, e
    t.require(bad is None and metrics, "/metrics parses as Prometheus text", bad)
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    wrong = {k: (types.get(k), v) for k, v in TYPES.items() if types.get(k) != v}
    t.check(not wrong, "each documented metric has its # TYPE", wrong)
    t.check(h.metric(metrics, "ocrq_jobs_total", outcome="succeeded") == N_JOBS,
            f'ocrq_jobs_total{{outcome="succeeded"}} == {N_JOBS}',
            h.metric_series(metrics, "ocrq_jobs_total"))
    check_histogram(t, metrics, "ocrq_ocr_duration_seconds", N_JOBS)
    check_histogram(t, metrics, "ocrq_queue_wait_seconds", N_JOBS)
    t.check(h.metric(metrics, "ocrq_children") == 2, "ocrq_children == 2 (worker.processes)",
            h.metric(metrics, "ocrq_children"))
    t.check(h.metric(metrics, "ocrq_jobs_in_flight") == 0, "ocrq_jobs_in_flight == 0",
            h.metric(metrics, "ocrq_jobs_in_flight"))
    t.check(h.metric(metrics, "ocrq_queue_ready_messages", queue=h.JOB_QUEUE) is not None,
            'ocrq_queue_ready_messages{queue="ocr.jobs"} is there',
            h.metric_series(metrics, "ocrq_queue_ready_messages"))
    rss = h.metric_series(metrics, "ocrq_child_rss_bytes")
    t.check(len(rss) == 2 and all(v > 0 for _, v in rss),
            "one ocrq_child_rss_bytes series per child, each > 0", rss)
    t.check(h.worker_children(w) == kids, "the children were not restarted", h.worker_children(w))

    # A second supervisor on the same address: it does not start.
    r = h.run_cmd([h.WORKER, "-c", h.fleet_config({"worker.processes": 1,
                                                   "worker.metrics_listen": f"127.0.0.1:{port}"}),
                   "--name", "second"], timeout=60)
    t.check(r.returncode == 2 and f"127.0.0.1:{port}" in r.stderr
            and "OCRQ_METRICS_LISTEN" in r.stderr and "started child" not in r.stderr,
            "a supervisor whose HTTP address is taken exits 2 at start, naming the address "
            "and the way out", f"exit {r.returncode}; stderr: {r.stderr[-1000:]}")
    status, _, _ = get(port, "/healthz")
    t.check(status == 200, "the first supervisor still answers /healthz", status)

    # PostgreSQL down: /readyz says 503 with a reason once a child has noticed.
    try:
        h.services("pg-stop")
        body, props = h.inline_job(img.read_bytes(), source="during-outage.png")
        h.publish_raw(body, props)
        status, _, reason = h.wait_until(
            lambda: (lambda r: r if r[0] != 200 else None)(get(port, "/readyz")), timeout=60, ignore=(OSError,),
            what="GET /readyz to stop answering 200 while PostgreSQL is down")
        t.check(status == 503 and reason.strip(), "GET /readyz: 503 with a reason while"
                " PostgreSQL is down", (status, reason))
        print(f"/readyz during the outage: {status} {reason.strip()!r}", flush=True)
        status, _, _ = get(port, "/healthz")
        t.check(status == 200, "GET /healthz: still 200 while PostgreSQL is down", status)
        time.sleep(1)
    finally:
        h.services("pg-start")
    h.check_eventually(t, lambda: get(port, "/readyz"), "GET /readyz: 200 again once PostgreSQL"
                       " is back", ok=lambda r: r[0] == 200, timeout=120)
    job_id = props.message_id
    row = h.wait_finished([job_id], what="the job published during the outage")[0]
    t.check(row["status"] == "succeeded", "the job published during the outage succeeded",
            row["status"])
    metrics = h.get_metrics(port)
    t.check((h.metric(metrics, "ocrq_reconnects_total", target="database") or 0) >= 1,
            'ocrq_reconnects_total{target="database"} >= 1',
            h.metric_series(metrics, "ocrq_reconnects_total"))
    t.check(h.stop_worker(w) == 0, "the supervisor exits 0 on SIGTERM")
    counts = h.queue_counts()
    t.check(not any(counts.values()), "the queues are empty", counts)


if __name__ == "__main__":
    h.run(main)
