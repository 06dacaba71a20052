# SPDX-License-Identifier: GPL-3.0-or-later
"""amqp.queue_type = "quorum" on one broker, in a vhost of its own
(docs/operations.md, "Changing the queue type"; docs/scaling.md).

1. A deployment set up classic, with 30 jobs queued and 2 messages in
   ocr.failed. `ocrq-admin setup` under quorum refuses, naming the queue
   that differs and the command that moves it over (no silent
   PRECONDITION_FAILED).
2. `ocrq-admin queues convert` refuses while a queue has a consumer.
3. With none, it converts: every queue of the topology is a quorum queue
   with the arguments the configuration asks for (x-delivery-limit,
   at-least-once dead-lettering, reject-publish), and every message is
   still there, with its message id.
4. A worker under quorum runs the 30 jobs: each succeeds exactly once;
   idle, it waits as a consumer on both job queues, each with its own
   prefetch (quorum queues refuse a global one), on the one connection it
   has had all along.
5. Priority under quorum comes from the two queues: with the worker
   paused, 10 normal then 3 priority jobs are queued; the 3 start before
   the normal ones still waiting.
6. x-delivery-limit: a message handed back (basic.nack, requeue) more than
   amqp.delivery_limit times is dead-lettered by the broker to ocr.failed,
   with reason delivery_limit."""

import urllib.parse

import harness as h

VHOST = "ocrq-quorum-test"
N_JOBS = 30
LIMIT = 3


def vhost_url():
    u = urllib.parse.urlsplit(h.AMQP_URL)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + urllib.parse.quote(VHOST, safe=""),
                                    "", ""))


def pika_channel():
    import pika
    conn = pika.BlockingConnection(pika.URLParameters(vhost_url()))
    return conn, conn.channel()


def queue_types():
    r = h.rabbitmqctl("list_queues", "-p", VHOST, "name", "type", "arguments")
    rows = {}
    for line in r.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0] != "name":
            rows[parts[0]] = (parts[1], parts[2])
    return rows


def drain_ids(ch, queue):
    ids = []
    while True:
        m, props, _ = ch.basic_get(queue, auto_ack=False)
        if m is None:
            return ids
        ids.append(props.message_id)


def main(t):
    h.rabbitmqctl("delete_vhost", VHOST)
    r = h.rabbitmqctl("add_vhost", VHOST)
    t.require(r.returncode == 0, f"vhost {VHOST} made", r.stderr)
    h.rabbitmqctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")
    try:
        run(t)
    finally:
        h.rabbitmqctl("delete_vhost", VHOST)


def run(t):
    e = h.env(OCRQ_AMQP_URL=vhost_url())
    classic = h.write_config({"amqp.queue_type": "classic"}, path=h.tmpdir() / "classic.conf")
    quorum = h.write_config({"amqp.queue_type": "quorum", "amqp.delivery_limit": LIMIT,
                             "worker.metrics_listen": ""}, path=h.tmpdir() / "quorum.conf")
    r = h.admin(["-c", classic, "setup"], environ=e)
    t.require(r.returncode == 0, "setup as classic", r.stderr)

    img = h.make_image("Quorum queue job 7731", h.tmpdir() / "job.png", width=900)
    r = h.submit(["--json", "-q", "-c", classic, *h.copies(img, N_JOBS)], environ=e)
    t.require(r.returncode == 0, f"{N_JOBS} jobs queued in classic queues", r.stderr)
    ids = [o["job_id"] for o in h.json_lines(r.stdout)]
    conn, ch = pika_channel()
    import pika
    for i in range(2):
        ch.basic_publish("", "ocr.failed", b"{}", pika.BasicProperties(message_id=f"dead-{i}"))
    conn.close()

    # 1. the other type is refused with what to do
    r = h.admin(["-c", quorum, "setup"], environ=e)
    t.check(r.returncode != 0 and "exists with other arguments" in r.stderr
            and "queues convert" in r.stderr and "x-queue-type" in r.stderr,
            "setup under quorum refuses: names the queue that differs and the way over",
            (r.returncode, r.stderr[-600:]))

    # 2. not while something consumes
    conn, ch = pika_channel()
    ch.basic_consume("ocr.jobs", lambda *a: None, auto_ack=False)
    ch.basic_qos(prefetch_count=1)
    r = h.admin(["-c", quorum, "queues", "convert"], environ=e)
    t.check(r.returncode != 0 and "consumer" in r.stderr,
            "queues convert refuses while a queue has a consumer", (r.returncode, r.stderr[-300:]))
    conn.close()

    # 3. converted, messages kept
    r = h.admin(["-c", quorum, "queues", "convert"], environ=e, timeout=300)
    print(r.stdout, flush=True)
    t.require(r.returncode == 0, "queues convert succeeds", r.stderr[-600:])
    types = queue_types()
    names = [n for n in types if not n.endswith(".converting")]
    t.check(len(names) == 9 and all(types[n][0] == "quorum" for n in names),
            "every queue of the topology is a quorum queue", types)
    t.check(not any(n.endswith(".converting") for n in types), "no holding queue is left",
            list(types))
    jobs_args = types.get("ocr.jobs", ("", ""))[1]
    t.check(f'"x-delivery-limit",{LIMIT}' in jobs_args and "at-least-once" in jobs_args
            and "reject-publish" in jobs_args and "x-max-priority" not in jobs_args,
            "ocr.jobs: delivery limit, at-least-once dead-lettering, no x-max-priority",
            jobs_args)
    retry_args = types.get("ocr.jobs.retry.5s", ("", ""))[1]
    t.check("at-least-once" in retry_args and "x-message-ttl" in retry_args,
            "a retry delay queue dead-letters at-least-once after its TTL", retry_args)
    conn, ch = pika_channel()
    failed_ids = drain_ids(ch, "ocr.failed")
    conn.close()  # unacked: they stay
    t.check(sorted(failed_ids) == ["dead-0", "dead-1"], "ocr.failed kept its 2 messages",
            failed_ids)
    r = h.admin(["-c", quorum, "setup"], environ=e)
    t.check(r.returncode == 0, "setup under quorum is content now", r.stderr[-300:])

    # 4. a worker under quorum runs the converted jobs
    w = h.start_worker(quorum, environ=e)
    h.check_succeeded_once(t, ids, timeout=200)

    # an idle worker waits as a consumer on both queues (quorum queues take no global prefetch)
    def consumers():
        c, chan = pika_channel()
        try:
            return [chan.queue_declare(q, passive=True).method.consumer_count
                    for q in ("ocr.jobs.priority", "ocr.jobs")]
        finally:
            c.close()
    h.check_eventually(t, consumers, "the idle worker consumes both job queues: one consumer"
                       " on ocr.jobs.priority and on ocr.jobs", ok=lambda c: c == [1, 1],
                       timeout=60)

    # 5. priority from the two queues
    normal_img = h.make_image("Normal quorum job", h.tmpdir() / "normal.png")
    prio_img = h.make_image("Priority quorum job", h.tmpdir() / "prio.png")
    h.pause_worker(w)
    try:
        r1 = h.submit(["--json", "-q", "-c", quorum, "-p", "0",
                       *h.copies(normal_img, 10, stem="normal")], environ=e)
        r2 = h.submit(["--json", "-q", "-c", quorum, "-p", "9",
                       *h.copies(prio_img, 3, stem="prio")], environ=e)
    finally:
        h.resume_worker(w)
    t.require(r1.returncode == 0 and r2.returncode == 0, "10 normal and 3 priority jobs queued",
              r1.stderr + r2.stderr)
    normal_ids = [o["job_id"] for o in h.json_lines(r1.stdout)]
    prio_ids = [o["job_id"] for o in h.json_lines(r2.stdout)]
    rows = h.wait_finished(normal_ids + prio_ids)
    order = [r["job_id"] for r in sorted(rows, key=lambda r: r["started_at"])]
    last_prio = max(order.index(j) for j in prio_ids)
    early_normal = sum(1 for j in order[:last_prio] if j in normal_ids)
    # the one normal job the worker may hold (prefetch 1) when it is paused may go first
    t.check(early_normal <= 1, "the priority jobs start before the waiting normal ones",
            "".join("P" if j in prio_ids else "n" for j in order))
    log = h.log_text(w)
    t.check(log.count("connected to the broker") == 1 and "global qos" not in log,
            "the worker kept its one broker connection throughout",
            [ln for ln in log.splitlines() if "amqp:" in ln][:3])
    h.stop_worker(w)

    # 6. the broker's delivery limit
    conn, ch = pika_channel()
    ch.confirm_delivery()
    ch.basic_publish("", "ocr.jobs", b"not a job", pika.BasicProperties(message_id="poison-1"))
    returned = 0
    for _ in range(LIMIT + 3):
        m, props, _ = ch.basic_get("ocr.jobs", auto_ack=False)
        if m is None:
            break
        ch.basic_nack(m.delivery_tag, requeue=True)
        returned += 1
    conn.close()

    def dead():
        c, chan = pika_channel()
        try:
            m, props, _ = chan.basic_get("ocr.failed", auto_ack=False)
            while m is not None and props.message_id != "poison-1":
                m, props, _ = chan.basic_get("ocr.failed", auto_ack=False)
            return props if m is not None else None
        finally:
            c.close()
    props = h.wait_until(dead, timeout=30, what="the poison message in ocr.failed")
    reasons = [d.get("reason") for d in (props.headers or {}).get("x-death", [])]
    t.check(returned == LIMIT + 1 and b"delivery_limit" in [x if isinstance(x, bytes)
                                                             else str(x).encode()
                                                             for x in reasons],
            f"handed back {LIMIT + 1} times, the broker dead-letters it (delivery_limit)",
            (returned, props.headers))


if __name__ == "__main__":
    h.run(main)
