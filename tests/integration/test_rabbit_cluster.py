# SPDX-License-Identifier: GPL-3.0-or-later
"""A 3-node RabbitMQ cluster with quorum queues loses nothing when the node
that leads ocr.jobs goes down mid-run (docs/scaling.md).

scripts/cluster rabbit-start runs three nodes on this machine; the queues
are declared quorum (amqp.queue_type). Three supervisors (1 OCR process
each) list the nodes in amqp.urls, each starting from another node, so the
fleet is spread over the cluster.

ocrq-submit A (250 jobs, 8 publishes in flight at most) starts on the node
that leads ocr.jobs. Its stdout is a one-page pipe the test does not read at first, so it stops in the
middle of its run (it writes a --json line per confirm). The workers are
paused, each holding the job it took; the leader node is stopped; the
workers go on, and A is read again: both must move to another node, A
publishing again what was not confirmed. While the node is down,
ocrq-submit B (50 jobs) runs, starting from the stopped node's URL. Then
the node is started again.

Checked: ocr.jobs elects a new leader; A and B exit 0; every job they
reported queued (confirmed by the broker) ends succeeded exactly once, with
one result; the batches hold no other row. The time for the same 300 jobs
on the single broker of scripts/services, without a fault, is printed
beside the cluster's (not asserted)."""

import time

import cluster
import harness as h

N_A, N_B, PROCESSES = 250, 50, 3


def start_workers(urls, qtype, environ):
    workers = []
    for k in range(PROCESSES):
        conf = h.fleet_config({"amqp.queue_type": qtype, "worker.processes": 1,
                               "amqp.urls": urls[k:] + urls[:k]},
                              path=h.tmpdir() / f"worker-{qtype}-{k}.conf")
        workers.append(h.start_worker(conf, environ=environ))
    for w in workers:
        h.wait_children(w, 1)
    return workers


def submit_conf(name, qtype, urls, window=256):
    return h.write_config({"amqp.queue_type": qtype, "amqp.urls": urls,
                           "amqp.confirm_window": window}, path=h.tmpdir() / f"{name}.conf")


def queued_ids(t, name, r):
    t.check(r.returncode == 0, f"ocrq-submit {name} exits 0", r.stderr[-600:])
    return [o["job_id"] for o in h.json_lines(r.stdout) if o.get("status") == "queued"]


def main(t):
    img = h.make_image("Cluster job 3141", h.tmpdir() / "job.png", width=900)
    inputs_a, inputs_b = h.copies(img, N_A, stem="a"), h.copies(img, N_B, stem="b")

    # the single broker, without a fault, for the figure beside the cluster's
    workers = start_workers([h.AMQP_URL], "classic", h.env())
    t0 = time.monotonic()
    ids = queued_ids(t, "(single broker)", h.submit(["--json", "-q", *inputs_a, *inputs_b]))
    h.check_succeeded_once(t, ids, timeout=300)
    single_s = time.monotonic() - t0
    for w in workers:
        h.stop_worker(w)
    h.reset()

    started = time.monotonic()
    cluster.rabbit_cluster_start(fresh=True)
    print(f"3-node cluster up in {time.monotonic() - started:.1f} s", flush=True)
    urls = cluster.rabbit_cluster_urls()
    e = h.env(OCRQ_AMQP_URL=None)
    r = h.admin(["-c", submit_conf("setup", "quorum", urls), "setup"], environ=e)
    t.require(r.returncode == 0, "ocrq-admin setup declares quorum queues on the cluster",
              r.stderr[-400:])
    types = cluster.rabbit_ctl(1, "list_queues", "name", "type")
    t.check("ocr.jobs\tquorum" in types and "ocr.jobs.priority\tquorum" in types,
            "ocr.jobs and ocr.jobs.priority are quorum queues", types)
    leader = cluster.queue_leader("ocr.jobs")
    t.require(leader in (1, 2, 3), "ocr.jobs has a leader", leader)
    k = leader - 1
    from_leader = urls[k:] + urls[:k]

    workers = start_workers(urls, "quorum", e)
    t0 = time.monotonic()
    a = h.StalledSubmit(["-c", submit_conf("a", "quorum", from_leader, window=8), "--json",
                         "-q", "-b", "cluster-a", *inputs_a], e, h.tmpdir() / "submit-a.stderr")
    try:
        t.check(a.start().stalled(), "ocrq-submit A stops in the middle of its run (running,"
                " its stdout pipe full)", a.p.poll())
        for w in workers:
            h.pause_worker(w)
        print(f"stopping node {leader}, the leader of ocr.jobs", flush=True)
        cluster.rabbit_node_stop(leader)
        for w in workers:
            h.resume_worker(w)
        a.resume()
        new = cluster.wait_queue_leader("ocr.jobs", not_on=leader, timeout=60)
        t.check(new != leader, f"ocr.jobs is led by node {new} while node {leader} is down")
        rb = h.submit(["--json", "-q", "-c", submit_conf("b", "quorum", from_leader),
                       "-b", "cluster-b", *inputs_b], environ=e, timeout=300)
    finally:
        a.resume()
        cluster.rabbit_node_start(leader)
    ra = a.finish()
    print(ra.stderr.strip(), flush=True)
    t.check("connection lost" in ra.stderr and "connected again" in ra.stderr,
            "ocrq-submit A lost its node and went on on another", ra.stderr[-400:])
    ids = queued_ids(t, "A (cut off mid-run)", ra) + queued_ids(t, "B (during the outage)", rb)
    t.check(len(ids) == N_A + N_B, f"all {N_A + N_B} jobs confirmed by the broker", len(ids))
    h.check_succeeded_once(t, ids, timeout=400)
    cluster_s = time.monotonic() - t0
    rows = h.db_query("SELECT count(*) AS n FROM ocr_jobs WHERE batch IN ('cluster-a',"
                      " 'cluster-b')")[0]["n"]
    t.check(rows == len(ids), "the batches hold no other job, none is missing", rows)
    for w in workers:
        h.stop_worker(w)
    print(f"{len(ids)} jobs: single broker {single_s:.1f} s; 3-node cluster with quorum queues,"
          f" node {leader} stopped and started mid-run, {cluster_s:.1f} s", flush=True)


if __name__ == "__main__":
    h.run(main)
