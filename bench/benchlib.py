# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared pieces of the ocrq benchmarks (bench/throughput, bench/scaling, bench/rss).

Settings as scripts/lib.sh resolves them, the processes a benchmark starts
(stopped by pid, never by name), the broker and database (reset, submit,
wait until every job is final, check that every job succeeded), the raw
baseline, the input sets, and how a benchmark ends (its exit code).
"""
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse

import pika
import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB_QUEUES = ("ocr.jobs.priority", "ocr.jobs")
RETRY_DELAYS_S = (5, 30, 120)
ALL_QUEUES = JOB_QUEUES + ("ocr.failed",) + tuple(
    f"{q}.retry.{d}s" for q in JOB_QUEUES for d in RETRY_DELAYS_S)
POLL_S = 0.01
STALL_S = 120       # no job finished for this long: give up (a hang, not a slow run)
CMD_TIMEOUT_S = 1800
FINISHED_SQL = "SELECT count(*) FROM ocr_jobs WHERE status IN ('succeeded', 'failed')"


class Failure(Exception):
    """Something did not work; the run has no valid figure."""


class Unavailable(Exception):
    """The broker or the database cannot be reached."""


def say(*a):
    print(*a, file=sys.stderr, flush=True)


def lib_settings():
    """OCRQ_AMQP_URL, OCRQ_DATABASE_URL, OCRQ_RUN_DIR, OCRQ_BUILD_DIR as scripts/lib.sh
    resolves them (the environment first, then its defaults)."""
    script = ('. "$1/scripts/lib.sh"; printf "%s\\n" "$OCRQ_AMQP_URL" "$OCRQ_DATABASE_URL" '
              '"$OCRQ_RUN_DIR" "$OCRQ_BUILD_DIR"')
    out = subprocess.run(["bash", "-c", script, "lib", ROOT], check=True, text=True,
                         stdout=subprocess.PIPE).stdout.split("\n")
    return dict(zip(("amqp_url", "database_url", "run_dir", "build_dir"), out))


def binaries(ap, build, names):
    """{name: path} of the binaries in build/bin; a usage error (exit 2) if one is missing."""
    bins = {b: os.path.join(build, "bin", b) for b in names}
    missing = [p for p in bins.values() if not os.access(p, os.X_OK)]
    if missing:
        ap.error(f"not built: {', '.join(missing)} (cmake --build {build}, or --build DIR)")
    return bins


def bench_env(s):
    """The environment every binary runs in: OMP_THREAD_LIMIT=1, the two URLs, no
    OCRQ_CONFIG (built-in defaults, or a config the benchmark writes: the same for
    everybody). Also turns SIGTERM into KeyboardInterrupt, so that cleanup runs."""
    # libgomp reads it when it loads, so it must be in the children's environment from the start.
    os.environ["OMP_THREAD_LIMIT"] = "1"
    env = dict(os.environ, OCRQ_AMQP_URL=s["amqp_url"], OCRQ_DATABASE_URL=s["database_url"])
    env.pop("OCRQ_CONFIG", None)
    signal.signal(signal.SIGTERM, on_signal)
    return env


def on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run(cmd, env, timeout=CMD_TIMEOUT_S):
    return subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


def redact(url):
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        rest = user + ":***@" + rest.split("@", 1)[1]
    return scheme + sep + rest


def children_cpu():
    """CPU seconds of every descendant reaped so far (theirs and, once waited for, theirs')."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# --------------------------------------------------------------------------
# Processes

class Procs:
    """The long-running processes (workers) a benchmark started, each with its log file."""

    def __init__(self, prog):
        self.prog = prog
        self.procs = []     # (Popen, log file)

    def start(self, cmd, env, log_path):
        log = open(log_path, "w")
        try:
            p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT)
        except BaseException:
            log.close()
            raise
        self.procs.append((p, log))
        return p

    def all_exited(self):
        return all(p.poll() is not None for p, _ in self.procs)

    def stop(self, grace_s=30):
        """SIGTERM every process still running (by pid), then SIGKILL what is left after
        grace_s. Closes the logs and forgets the processes; returns their exit codes."""
        for p, _ in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for p, _ in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{self.prog}: worker pid {p.pid} ignored SIGTERM; killing it")
                p.kill()
                p.wait()
        codes = [p.returncode for p, _ in self.procs]
        for _, log in self.procs:
            log.close()
        self.procs.clear()
        return codes


def child_pids(pid):
    """Direct children of pid (its main thread's, which is where a single-threaded
    supervisor forks), from /proc/PID/task/PID/children."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except FileNotFoundError:
        return []


def proc_status_kib(pid, fields=("VmRSS", "RssAnon", "RssFile", "VmHWM")):
    """{field: KiB} from /proc/PID/status; None if the process is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, val = line.partition(":")
                if key in fields:
                    out[key] = int(val.split()[0])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return out


LOG_PROBLEM = re.compile(r"\b(WARN|ERROR)\b")


def log_problems(paths, limit=5):
    """(count, first `limit` lines) of the WARN and ERROR lines in the given logs."""
    n, first = 0, []
    for path in paths:
        try:
            with open(path, errors="replace") as f:
                for line in f:
                    if LOG_PROBLEM.search(line):
                        n += 1
                        if len(first) < limit:
                            first.append(f"{os.path.basename(path)}: {line.rstrip()}")
        except FileNotFoundError:
            pass
    return n, first


def say_log_problems(prog, paths):
    n, first = log_problems(paths)
    if n:
        say(f"{prog}: {n} WARN/ERROR line(s) in the worker log; the first:")
        for line in first:
            say(f"  {line}")


# --------------------------------------------------------------------------
# Broker and database

class Services:
    def __init__(self, s, env, bins):
        self.s, self.env, self.bins = s, env, bins
        try:
            self.db = psycopg2.connect(s["database_url"], connect_timeout=10)
        except psycopg2.Error as e:
            raise Unavailable(f"database {s['database_url']}: {str(e).strip()}") from None
        self.db.autocommit = True

    def close(self):
        self.db.close()

    def amqp(self):
        try:
            return pika.BlockingConnection(pika.URLParameters(self.s["amqp_url"]))
        except pika.exceptions.AMQPError as e:
            raise Unavailable(f"broker {redact(self.s['amqp_url'])}: {e!r}") from None

    def query(self, sql, args=None):
        with self.db.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None

    def queues(self):
        """{queue: (ready messages, consumers)} for the job queues."""
        out, conn = {}, self.amqp()
        try:
            ch = conn.channel()
            for q in JOB_QUEUES:
                m = ch.queue_declare(q, passive=True).method
                out[q] = (m.message_count, m.consumer_count)
        finally:
            conn.close()
        return out

    def reset(self):
        """Topology and schema (ocrq-admin setup), then no messages and no rows."""
        r = run([self.bins["ocrq-admin"], "setup"], self.env, timeout=120)
        if r.returncode == 3:
            raise Unavailable(f"ocrq-admin setup: {r.stderr.strip()}")
        if r.returncode != 0:
            raise Failure(f"ocrq-admin setup exited {r.returncode}: {r.stderr.strip()}")
        conn = self.amqp()
        try:
            ch = conn.channel()
            for q in ALL_QUEUES:
                try:
                    ch.queue_purge(q)
                except pika.exceptions.ChannelClosedByBroker:
                    ch = conn.channel()  # 404: not declared under this configuration
        finally:
            conn.close()
        self.query("TRUNCATE ocr_jobs, ocr_results CASCADE")
        busy = {q: c for q, (_, c) in self.queues().items() if c}
        if busy:
            raise Failure(f"other consumers are on the job queues {busy}: stop them, or use "
                          "a vhost of its own (bench/README.md)")

    def submit(self, directory, n, total=None):
        """ocrq-submit -r DIR -q (n files); checks that `total` (default n) rows are queued
        and as many messages ready afterwards. Returns its seconds."""
        total = n if total is None else total
        t0 = time.monotonic()
        r = run([self.bins["ocrq-submit"], "-r", directory, "-q"], self.env)
        secs = time.monotonic() - t0
        if r.returncode != 0:
            raise Failure(f"ocrq-submit exited {r.returncode}: {r.stderr.strip()[-2000:]}")
        rows = self.query("SELECT count(*) FILTER (WHERE status = 'queued'), count(*) "
                          "FROM ocr_jobs")[0]
        msgs = sum(m for m, _ in self.queues().values())
        if rows != (total, total) or msgs != total:
            raise Failure(f"after submitting {total} files: {rows[1]} rows ({rows[0]} queued), "
                          f"{msgs} messages")
        return secs

    def wait_finished(self, n, procs, t0, logdir, limit_s=None, each=None, poll_s=POLL_S):
        """Polls every poll_s until n jobs are succeeded or failed; returns the seconds from
        t0 to the poll that saw it. each(done, now), if given, is called after every poll
        (the last included). Failure if every process in procs exited, if no job finished
        for STALL_S, or after limit_s seconds."""
        last, last_change = -1, t0
        while True:
            done = self.query(FINISHED_SQL)[0][0]
            now = time.monotonic()
            if each:
                each(done, now)
            if done >= n:
                return now - t0
            if done != last:
                last, last_change = done, now
            if procs.all_exited():
                raise Failure(f"every worker exited with {done}/{n} jobs finished; see {logdir}")
            if now - last_change > STALL_S:
                raise Failure(f"no job finished for {STALL_S} s ({done}/{n}); see {logdir}")
            if limit_s and now - t0 > limit_s:
                raise Failure(f"not finished after {limit_s:.0f} s ({done}/{n}); see {logdir}")
            time.sleep(poll_s)

    def last_finished(self):
        """The latest finished_at of ocr_jobs, in seconds since the epoch (time.time())."""
        return float(self.query("SELECT extract(epoch FROM max(finished_at)) FROM ocr_jobs")[0][0])

    def check_succeeded(self, n, tag, logdir):
        """Failure unless there are exactly n jobs, all succeeded, each with non-empty text."""
        by = self.query("SELECT status, coalesce(error_code, ''), count(*) FROM ocr_jobs "
                        "GROUP BY 1, 2 ORDER BY 1, 2")
        texts = self.query("SELECT count(*) FROM ocr_results WHERE length(btrim(text)) > 0")[0][0]
        if by != [("succeeded", "", n)] or texts != n:
            raise Failure(f"{tag}: expected {n} succeeded jobs with text, got {by} and {texts} "
                          f"non-empty results; see {logdir}")

    def jobs_per_worker(self):
        return dict(self.query("SELECT worker, count(*) FROM ocr_jobs GROUP BY 1 ORDER BY 1"))


# --------------------------------------------------------------------------
# Inputs and the raw baseline

def make_images(cache, pages=0, snippets=0, tiny=0):
    """bench/gen_images into cache (files already there are kept)."""
    gen = [os.path.join(ROOT, "bench", "gen_images"), "--pages", str(pages),
           "--snippets", str(snippets), "--tiny", str(tiny), cache]
    if subprocess.run(gen).returncode != 0:
        raise Failure("bench/gen_images failed")


def exact_set(cache, kind, n):
    """A directory of exactly the first n files of cache/kind (hard links), so that
    ocrq-submit -r takes the same set as ocrq-bench-raw, whatever else the cache holds."""
    src, dst = os.path.join(cache, kind), os.path.join(cache, f"{kind}-{n}")
    names = sorted(f for f in os.listdir(src) if f.endswith(".png"))[:n]
    if not os.path.isdir(dst) or sorted(os.listdir(dst)) != names:
        shutil.rmtree(dst, ignore_errors=True)
        os.makedirs(dst)
        for f in names:
            os.link(os.path.join(src, f), os.path.join(dst, f))
    return dst


def files_in(directory):
    return [os.path.join(directory, f) for f in sorted(os.listdir(directory))]


def measure_raw(bins, env, files, w):
    """ocrq-bench-raw -j W FILES. Returns (images/s, seconds, CPU seconds of the W processes)."""
    cpu0 = children_cpu()
    r = run([bins["ocrq-bench-raw"], "-j", str(w), *files], env)
    if r.returncode != 0:
        raise Failure(f"ocrq-bench-raw exited {r.returncode}: {r.stderr.strip()[-2000:]}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    return res["images_per_s"], res["seconds"], children_cpu() - cpu0


def median(xs):
    return statistics.median(xs) if xs else None


def fmt(x, unit=""):
    return "-" if x is None else f"{x:,.2f}{unit}" if x < 1000 else f"{x:,.0f}{unit}"


# --------------------------------------------------------------------------
# How a benchmark ends

def guarded(prog, procs, logdir, body):
    """Runs body() and returns (exit code, what body returned or None): 0 it returned,
    1 Failure, 3 broker or database unreachable (or lost), 130 interrupted. Stops every
    process in procs either way. The worker logs in logdir are kept (and their path
    printed) only when something went wrong after a worker was started."""
    ok = False
    try:
        result = body()
        ok = True
        return 0, result
    except Unavailable as e:
        say(f"{prog}: unavailable: {e} (scripts/services start?)")
        return 3, None
    except (psycopg2.Error, pika.exceptions.AMQPError) as e:
        say(f"{prog}: lost the database or the broker: {str(e).strip() or repr(e)}")
        return 3, None
    except Failure as e:
        say(f"{prog}: FAILED: {e}")
        return 1, None
    except KeyboardInterrupt:
        say(f"{prog}: interrupted")
        return 130, None
    finally:
        procs.stop()
        if ok or not any(f.endswith(".log") for f in os.listdir(logdir)):
            shutil.rmtree(logdir, ignore_errors=True)
        else:
            say(f"{prog}: worker logs kept in {logdir}")


# --------------------------------------------------------------------------
# CPU time of whole process trees and the servers' processes (bench/costs)

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_cpu_ticks(pid):
    """(utime + stime, cutime + cstime) of pid in seconds, from /proc/PID/stat: its own
    CPU (every thread's, exited ones too) and that of the children it has reaped
    (with what they had reaped). Clock ticks: 1/CLK_TCK s resolution."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK


def _threads_ns(pid):
    """{tid: nanoseconds on a CPU} of pid's live threads (/proc/PID/task/TID/schedstat);
    {} where the kernel has no schedstat."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[int(tid)] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


def _all_children(pid):
    """Live children of pid, whichever of its threads forked them."""
    kids = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return kids


def tree_snapshot(root):
    """The CPU time so far of root and every live descendant: {pid: (own s in ticks,
    {tid: ns}, reaped s)}. Pass two of them to tree_cpu()."""
    snap, todo = {}, [root]
    while todo:
        pid = todo.pop()
        try:
            threads = _threads_ns(pid)
            own, reaped = _proc_cpu_ticks(pid)
            kids = _all_children(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile: its time is in its parent's reaped time
        snap[pid] = (own, threads, reaped)
        todo += kids
    return snap


def tree_cpu(before, after):
    """{pid: CPU seconds between two tree_snapshot()s}: what each process in either
    snapshot used in between, its children reaped meanwhile included (a process that
    exited in between is in its parent's figure: its CPU since `before` there, its own
    entry minus what it had used before). A process alive in both with the same
    threads is counted in nanoseconds (schedstat), otherwise in clock ticks."""
    out = {}
    for pid, (own1, thr1, reaped1) in after.items():
        b = before.get(pid)
        if b is None:  # started in between
            out[pid] = max(own1, sum(thr1.values()) / 1e9) + reaped1
            continue
        own0, thr0, reaped0 = b
        if thr0 and set(thr0) == set(thr1):
            own = (sum(thr1.values()) - sum(thr0.values())) / 1e9
        else:
            own = own1 - own0
        out[pid] = own + reaped1 - reaped0
    for pid, (own0, thr0, reaped0) in before.items():
        if pid not in after:  # exited in between: counted whole in its parent's reaped
            out[pid] = -((sum(thr0.values()) / 1e9 if thr0 else own0) + reaped0)
    return out


def proc_cmdline(pid):
    """The command line of pid as one string ('' if gone); PostgreSQL puts its process
    titles ('postgres: walwriter') there."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def proc_ppid(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def listening_pid(port):
    """The pid of the process on this machine that listens on TCP port `port` (the
    oldest one if several hold the socket); None if none is found (not here, or not
    allowed to read other users' /proc/PID/fd)."""
    inodes = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{f[9]}]")
    pids = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{d}/fd"):
                if os.readlink(f"/proc/{d}/fd/{fd}") in inodes:
                    pids.add(int(d))
                    break
        except OSError:
            continue
    roots = [p for p in pids if _safe_ppid(p) not in pids]
    return min(roots) if roots else None


def _safe_ppid(pid):
    try:
        return proc_ppid(pid)
    except OSError:
        return None


# --------------------------------------------------------------------------
# The servers' processes (bench/costs, bench/throughput)

class Servers:
    """Where the broker's and PostgreSQL's processes are, and what to read from them."""

    def __init__(self, svc, amqp_url):
        port = urllib.parse.urlsplit(amqp_url).port or 5672
        self.broker = listening_pid(port)
        if self.broker is None:
            raise Failure(f"no process on this machine listens on the broker's port {port} "
                          "(or its /proc/PID/fd cannot be read: run as root or as its user): "
                          "the broker must run here to be measured")
        backend = svc.query("SELECT pg_backend_pid()")[0][0]
        try:
            self.postmaster = proc_ppid(backend)
        except OSError:
            self.postmaster = None
        if self.postmaster is None or "postgres" not in proc_cmdline(backend):
            raise Failure(f"backend pid {backend} is not a PostgreSQL process on this machine: "
                          "the database must run here to be measured")
        self.ours = {backend}   # this script's backends: not ocrq's cost (see ignore())

    def ignore(self, conn):
        """Leave the backend of this script's connection conn out of PostgreSQL's CPU."""
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            self.ours.add(cur.fetchone()[0])

    def snapshot(self, worker_pid=None):
        snap = {"broker": tree_snapshot(self.broker), "pg": tree_snapshot(self.postmaster)}
        if worker_pid:
            snap["worker"] = tree_snapshot(worker_pid)
        return snap

    def broker_disk(self):
        """Bytes the broker's processes have had written to storage so far (write_bytes
        less cancelled_write_bytes of /proc/PID/io: its message store, queue indexes,
        quorum queues' log); None if unreadable."""
        total = 0
        for pid in tree_snapshot(self.broker):
            try:
                with open(f"/proc/{pid}/io") as f:
                    io = dict(line.split(": ") for line in f.read().splitlines())
            except (OSError, ValueError):
                return None
            total += int(io["write_bytes"]) - int(io["cancelled_write_bytes"])
        return total

    def cpu(self, a, b):
        """{part: CPU seconds between two snapshots}, and PostgreSQL's split by process
        kind ({postmaster, backends, exited, <auxiliary process title>: s}). The backends
        of this script's own connections (its poll) are left out."""
        out = {k: sum(tree_cpu(a[k], b[k]).values()) for k in a if k in b and k != "pg"}
        pg = {pid: s for pid, s in tree_cpu(a["pg"], b["pg"]).items() if pid not in self.ours}
        out["pg"] = sum(pg.values())
        split = {}
        for pid, s in pg.items():
            if pid == self.postmaster:
                # its own CPU, and the CPU of the children it reaped meanwhile
                own = tree_cpu({pid: a["pg"][pid][:2] + (0,)},
                               {pid: b["pg"][pid][:2] + (0,)})[pid]
                split["postmaster"] = split.get("postmaster", 0) + own
                split["exited"] = split.get("exited", 0) + s - own
                continue
            title = proc_cmdline(pid)
            kind = "backends"
            if s < 0 or not title:
                kind = "exited"   # its part of the time in the postmaster's reaped time
            elif title.startswith("postgres: "):
                words = title[len("postgres: "):].split()
                aux = ("checkpointer", "background", "walwriter", "autovacuum", "logical",
                       "archiver", "stats", "walsender", "walreceiver", "startup")
                if words and words[0] in aux:
                    kind = " ".join(words[:2]) if words[0] in (
                        "background", "autovacuum", "logical") else words[0]
            split[kind] = split.get(kind, 0) + s
        return out, split
