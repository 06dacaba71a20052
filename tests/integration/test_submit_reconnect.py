# SPDX-License-Identifier: GPL-3.0-or-later
"""ocrq-submit rides out a RabbitMQ restart in the middle of a run
(docs/design.md, "ocrq-submit"): 3000 small inline jobs, the broker stopped
(scripts/services mq-stop) while ocrq-submit has jobs confirmed, jobs
published and not yet confirmed, and jobs not yet published, then started
again (mq-start). ocrq-submit says once that it lost the broker and once that
it has it back, publishes the unconfirmed jobs again with the same job ids,
goes on with the rest, and exits 0 with a "queued" --json line for each of the
3000 inputs. Every job id it reported is in ocr.jobs (no worker runs, so they
stay there), and nothing else is. A job published again whose first publish
the broker had stored after all is there twice, which workers tolerate (one
job id runs once): the test counts those duplicates, prints them, and checks
that they are no more than the jobs published again. All 3000 rows of the
batch are queued, none failed with a broker error.

amqp.urls lists a port where nothing listens before the broker, so ocrq-submit
connects, and reconnects, by going on to the next broker of the list.

Without the reconnect ocrq-submit exits 3 with the unconfirmed and unpublished
jobs failed "not published: broker unavailable", and this fails.

How the broker goes away "in the middle", with no timing:
 1. ocrq-submit's stdout is a pipe of one page that the test does not read
    yet. It writes a --json line per confirm, so it blocks on that pipe after
    a few dozen of its 3000 jobs are confirmed; the test waits until the pipe
    is full.
 2. A memory alarm (rabbitmqctl set_vm_memory_high_watermark 0, undone by
    the restart) makes the broker stop reading from publishing connections.
    The test reads stdout, ocrq-submit goes on and publishes, and the broker
    blocks its connection (list_connections state "blocked"): what it
    publishes from then on is not confirmed.
 3. mq-stop, then mq-start (always, in a finally). The broker is down for as
    long as mq-start takes, seconds, well below the 60 s that ocrq-submit
    keeps trying."""

import re
import uuid
from collections import Counter

import harness as h

N_JOBS = 3000


def main(t):
    img = h.make_image("Reconnect 4411", h.tmpdir() / "job.png")
    data = img.read_bytes()
    inputs = h.tmpdir() / "inputs"
    inputs.mkdir()
    for i in range(N_JOBS):
        (inputs / f"job-{i:04d}.png").write_bytes(data)
    batch = f"reconnect-{uuid.uuid4()}"

    # amqp.urls: first a port where nothing listens, so that ocrq-submit connects,
    # and reconnects, by going on to the next broker of the list.
    dead_url = f"amqp://guest:guest@127.0.0.1:{h.free_port()}/"
    config = h.write_config({"amqp.urls": [dead_url, h.AMQP_URL]})
    sub = h.StalledSubmit(["-c", config, "--json", "-r", "-b", batch, inputs],
                          h.env(OCRQ_AMQP_URL=None), h.tmpdir() / "submit.stderr")
    try:
        t.check(sub.start().stalled(), "ocrq-submit blocks on its full stdout in the middle of"
                " the run", sub.p.poll())
        alarm = h.run_cmd([h.SERVICES, "ctl", "set_vm_memory_high_watermark", "0"], timeout=60,
                          environ=h.env(OCRQ_AMQP_PORT=h.AMQP_PORT, OCRQ_PG_PORT=h.PG_PORT))
        t.require(alarm.returncode == 0, "memory alarm set", alarm.stderr)
        sub.resume()  # ocrq-submit goes on, and publishes into the alarm
        h.check_eventually(t, lambda: [c["state"] for c in h.broker_connections()],
                           "the broker blocks ocrq-submit's connection: its publishes stay"
                           " unconfirmed", ok=lambda states: "blocked" in states, timeout=120,
                           interval=0.05, require=True)
        h.services("mq-stop")
    finally:
        sub.resume()
        h.services("mq-start")
    r = sub.finish()
    rc, stderr, out = r.returncode, r.stderr, [r.stdout.encode()]
    print("ocrq-submit's stderr:\n    " + "\n    ".join(stderr.splitlines()[-8:]), flush=True)

    t.check(rc == 0, "ocrq-submit exits 0 after the broker restart", f"exit {rc}")
    lost = [l for l in stderr.splitlines() if l.startswith("ocrq-submit: broker: connection lost")]
    back = [l for l in stderr.splitlines() if l.startswith("ocrq-submit: broker: connected again")]
    t.check(len(lost) >= 1 and len(back) == len(lost),
            "one line when it loses the broker, one when it has it back", stderr[-2000:])
    unconfirmed = [int(m) for m in re.findall(r"connection lost with (\d+) jobs unconfirmed",
                                              stderr)]
    t.check(unconfirmed and unconfirmed[0] > 0,
            "it lost the broker with jobs published and not confirmed", unconfirmed)

    lines = h.json_lines(out[0].decode() if out else "")
    ids = [o.get("job_id") for o in lines]
    t.check(len(lines) == N_JOBS and all(o.get("status") == "queued" for o in lines),
            f"{N_JOBS} --json lines, all queued",
            Counter(o.get("status") for o in lines))
    t.check(len(set(ids)) == N_JOBS and all(h.is_uuid(j) for j in ids),
            f"{N_JOBS} distinct job ids", f"{len(set(ids))} distinct")

    rows = h.db_query("SELECT job_id::text AS job_id, status, error_code, error_message"
                      " FROM ocr_jobs WHERE batch = %s", (batch,))
    t.check(len(rows) == N_JOBS and {r["job_id"] for r in rows} == set(ids),
            f"{N_JOBS} rows in the batch, one per job id reported", len(rows))
    not_queued = Counter((r["status"], r["error_code"], r["error_message"])
                         for r in rows if r["status"] != "queued")
    t.check(not not_queued, "every row is queued: none failed with a broker error",
            dict(not_queued))

    again = sum(int(m) for m in re.findall(r"publishing (\d+) jobs again", stderr))
    in_queue = Counter(h.queue_message_ids(h.JOB_QUEUE))
    dups = sum(n - 1 for n in in_queue.values())
    print(f"{sum(in_queue.values())} messages in {h.JOB_QUEUE} for {len(in_queue)} job ids:"
          f" {dups} duplicates (of the {again} jobs published again after the restart, those"
          f" whose first publish the broker had stored)", flush=True)
    t.check(set(in_queue) == set(ids),
            f"each job id reported is in {h.JOB_QUEUE}, and nothing else",
            f"missing {len(set(ids) - set(in_queue))}, foreign {len(set(in_queue) - set(ids))}")
    t.check(dups <= again, "every duplicate is a job published again after the restart",
            f"{dups} duplicates, {again} published again")


if __name__ == "__main__":
    h.run(main)
