# SPDX-License-Identifier: GPL-3.0-or-later
"""Strict priority when a worker takes a job (docs/design.md): while the only
worker is busy with a slow A4 page, 20 normal jobs (-p 0) and then 5
priority jobs (-p 9) are queued. When the page is done, the next 5 jobs the
worker starts must be exactly the 5 priority jobs, before any of the 20
normal ones.

The worker is paused (SIGSTOP to the supervisor and its OCR processes) while the 25 jobs are submitted, so they are
certainly all queued before it takes its next job, however fast or slow this
machine is; SIGCONT lets it go on."""

import signal

import harness as h

N_NORMAL, N_PRIORITY = 20, 5


def main(t):
    a4, _ = h.make_a4_page(h.tmpdir() / "page.png")
    normal_img = h.make_image("Normal job in the queue", h.tmpdir() / "normal.png")
    prio_img = h.make_image("Priority job first", h.tmpdir() / "prio.png")
    normal, prio = [], []
    for i in range(N_NORMAL):
        p = h.tmpdir() / f"normal-{i:02d}.png"
        p.write_bytes(normal_img.read_bytes())
        normal.append(p)
    for i in range(N_PRIORITY):
        p = h.tmpdir() / f"prio-{i}.png"
        p.write_bytes(prio_img.read_bytes())
        prio.append(p)

    w = h.start_worker()
    page_id = h.submit_json(["-p", "0", a4])[0]["job_id"]
    h.wait_until(lambda: (h.job_row(page_id) or {}).get("status") in ("running", "succeeded"),
                 what="the A4 page to start")
    h.pause_worker(w)
    try:
        page_busy = h.job_row(page_id)["status"] == "running"
        normal_lines = h.submit_json(["-p", "0", *normal])
        prio_lines = h.submit_json(["-p", "9", *prio])
    finally:
        h.resume_worker(w)
    print(f"the A4 page was {'still running' if page_busy else 'already done'} when the worker was paused")
    normal_ids = [o["job_id"] for o in normal_lines]
    prio_ids = [o["job_id"] for o in prio_lines]
    t.require(len(normal_ids) == N_NORMAL and len(prio_ids) == N_PRIORITY,
              f"{N_NORMAL} normal and {N_PRIORITY} priority jobs submitted",
              f"{len(normal_ids)} and {len(prio_ids)}")
    t.check(all(o.get("status") == "queued" for o in normal_lines + prio_lines),
            "--json without --wait says queued")

    all_ids = [page_id] + normal_ids + prio_ids
    rows = h.wait_finished(all_ids, what=f"{len(all_ids)} jobs to finish")
    t.check(all(r["status"] == "succeeded" for r in rows), f"all {len(all_ids)} jobs succeeded",
            [(r["source"], r["status"], r["error_code"]) for r in rows if r["status"] != "succeeded"])

    order = [r["job_id"] for r in sorted(rows, key=lambda r: r["started_at"])]
    t.check(order[0] == page_id, "the A4 page started first")
    after_page = order[order.index(page_id) + 1:]
    next5 = after_page[:N_PRIORITY]
    kinds = ["P" if j in prio_ids else "n" for j in after_page]
    t.check(set(next5) == set(prio_ids),
            f"the {N_PRIORITY} jobs started after the page are exactly the priority jobs",
            f"start order after the page (P priority, n normal): {''.join(kinds)}")
    prio_rows = [r for r in rows if r["job_id"] in prio_ids]
    t.check(all(r["priority"] == 9 for r in prio_rows), "priority jobs recorded with priority 9",
            [r["priority"] for r in prio_rows])
    t.check(h.stop_worker(w) == 0, "worker exits 0 on SIGTERM")


if __name__ == "__main__":
    h.run(main)
