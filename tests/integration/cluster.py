# SPDX-License-Identifier: GPL-3.0-or-later
"""Extra servers for the scale and failover tests: scripts/cluster from Python.

    import harness as h
    import cluster as c

    def main(t):
        c.rabbit_cluster_start()
        urls = c.rabbit_cluster_urls()          # three amqp:// URLs, nodes 1..3
        ...
        c.rabbit_node_stop(c.queue_leader("ocr.jobs"))

    if __name__ == "__main__":
        h.run(main)

Every function runs scripts/cluster with the environment of the test (OCRQ_AMQP_PORT,
OCRQ_PG_PORT and OCRQ_RUN_DIR as harness and scripts/services see them, and the
OCRQ_CLUSTER_AMQP_PORT, OCRQ_CLUSTER_EPMD_PORT, OCRQ_PG_STANDBY_PORT, OCRQ_PGBOUNCER_PORT
overrides if set) and raises harness.TestFailure when the script fails.

Cleanup: what a test changes is put back when the test process exits (atexit, so after
harness.run() has stopped the test's workers and printed its report; SIGTERM is turned
into an exit for the same reason), whether the test passed or not:
  - servers this process started (the RabbitMQ cluster, the standby, PgBouncer) stop;
  - nodes it stopped in a cluster it did not start are started again;
  - a scripts/services primary it killed is started again (scripts/services pg-start);
  - synchronous_standby_names it set is set back to '' (after the primary is back:
    a primary left waiting for a standby would hang every later test).
stop_all() stops everything at once, at any time.
"""

import atexit
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import harness as h

CLUSTER = h.SOURCE_DIR / "scripts" / "cluster"
START_TIMEOUT_S = 300   # a 3-node cluster takes ~17 s on 2 cores; only turns a hang into a failure

# What this process changed, for _cleanup().
_started = set()         # "rabbit", "standby", "pgbouncer"
_stopped_nodes = set()   # nodes stopped in a cluster this process did not start
_killed_primary = False
_sync_ports = set()      # ports where pg_sync(port, True) was called
_registered = False


def _env():
    return h.env(OCRQ_AMQP_PORT=h.AMQP_PORT, OCRQ_PG_PORT=h.PG_PORT)


def _log_path():
    """cluster.log in the test's temp dir; outside harness.run(), or at exit after a test
    that passed (its temp dir is gone then), a file of this process in the system temp dir."""
    try:
        d = h.tmpdir()
        if d.is_dir():
            return d / "cluster.log"
    except RuntimeError:   # not inside harness.run()
        pass
    return Path(tempfile.gettempdir()) / f"ocrq-cluster-{os.getpid()}.log"


def _run(*args, timeout=START_TIMEOUT_S, capture=False):
    """scripts/cluster args. Output goes to cluster.log in the test's temp dir (a started
    server must not hold a pipe of ours open), or is returned when capture is set."""
    argv = [str(CLUSTER), *map(str, args)]
    what = "scripts/cluster " + " ".join(map(str, args))
    try:
        if capture:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=timeout, env=_env())
            if r.returncode != 0:
                raise h.TestFailure(f"{what} exited {r.returncode}: {r.stderr.strip()[-2000:]}")
            return r.stdout
        log_path = _log_path()
        with open(log_path, "ab") as log:
            log.write(f"$ {what}\n".encode())
            log.flush()
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                               timeout=timeout, env=_env())
    except subprocess.TimeoutExpired:
        raise h.TestFailure(f"{what} did not finish within {timeout} s") from None
    if r.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise h.TestFailure(f"{what} exited {r.returncode}: {tail}")
    return None


def _status():
    """{"rabbit node 1": "running ...", "pg standby": ..., "pgbouncer": ...} from status."""
    r = subprocess.run([str(CLUSTER), "status"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120, env=_env())
    out = {}
    for line in (r.stdout + r.stderr).splitlines():
        k, _, v = line.partition(": ")
        out[k.strip()] = v.strip()
    return out


def _running(what):
    return _status().get(what, "").startswith("running")


def _register():
    global _registered
    if _registered:
        return
    _registered = True
    atexit.register(_cleanup)
    # ctest and the lead's runner end a test with SIGTERM: exit through atexit then too.
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def _quiet(fn, *args):
    try:
        fn(*args)
        return True
    except Exception as e:   # cleanup goes on; say what did not work
        print(f"cluster cleanup: {fn.__name__}{args}: {e}", file=sys.stderr, flush=True)
        return False


def _cleanup():
    global _killed_primary
    ok = True
    if "pgbouncer" in _started:
        ok &= _quiet(_run, "pgbouncer-stop")
    if "standby" in _started:
        ok &= _quiet(_run, "pg-standby-stop")
    if _killed_primary:
        ok &= _quiet(_services_pg_start)
        _killed_primary = False
    for port in sorted(_sync_ports):
        # the standby's own setting goes with it when this process stopped it
        if port == h.PG_PORT or "standby" not in _started:
            ok &= _quiet(_run, "pg-sync", "off", port)
    _sync_ports.clear()
    if "rabbit" in _started:
        ok &= _quiet(_run, "rabbit-stop")
    elif _stopped_nodes:
        ok &= _quiet(_run, "rabbit-start")   # starts the missing nodes of a running cluster
        _stopped_nodes.clear()
    _started.clear()
    log = _log_path()
    if log.parent == Path(tempfile.gettempdir()):
        if ok:
            log.unlink(missing_ok=True)
        else:
            print(f"cluster cleanup: see {log}", file=sys.stderr, flush=True)


def _services_pg_start():
    r = subprocess.run([str(h.SERVICES), "pg-start"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       timeout=180, env=_env())
    if r.returncode != 0:
        raise h.TestFailure(f"scripts/services pg-start exited {r.returncode}: {r.stderr.strip()}")


# --------------------------------------------------------------------------
# RabbitMQ cluster

def rabbit_cluster_start(fresh=False):
    """Start the 3-node cluster (a fresh one if none of its nodes runs; missing nodes of a
    running one are started again); returns its three AMQP URLs. fresh: stop a running
    one first (one left behind by a test that was killed keeps its queues)."""
    _register()
    if fresh:
        _run("rabbit-stop")
    if not any(_running(f"rabbit node {n}") for n in (1, 2, 3)):
        _started.add("rabbit")
    _run("rabbit-start")
    return rabbit_cluster_urls()


def rabbit_cluster_stop():
    _run("rabbit-stop")
    _started.discard("rabbit")
    _stopped_nodes.clear()


def rabbit_cluster_urls():
    """The AMQP URLs of nodes 1, 2, 3 (a list; the nodes need not run)."""
    out = _run("rabbit-env", capture=True)
    m = re.search(r'OCRQ_CLUSTER_AMQP_URLS="([^"]*)"', out)
    if not m:
        raise h.TestFailure(f"scripts/cluster rabbit-env printed {out!r}")
    return m.group(1).split()


def rabbit_node_url(n):
    return rabbit_cluster_urls()[n - 1]


def _node_changed(n):
    _register()
    if "rabbit" not in _started:
        _stopped_nodes.add(n)


def rabbit_node_stop(n):
    """Stop node n (1..3) cleanly; returns when its VM has exited."""
    _node_changed(n)
    _run("rabbit-stop-node", n)


def rabbit_node_kill(n):
    """SIGKILL node n's VM."""
    _node_changed(n)
    _run("rabbit-kill-node", n)


def rabbit_node_start(n):
    """Start node n again; returns when it runs (it rejoins the cluster by itself)."""
    _run("rabbit-start-node", n)
    _stopped_nodes.discard(n)


def rabbit_ctl(n, *args, timeout=120):
    """rabbitmqctl ARGS against node n; returns its stdout (raises TestFailure on failure)."""
    return _run("rabbit-ctl", n, *args, capture=True, timeout=timeout)


def rabbit_queues(n, *args, timeout=120):
    """rabbitmq-queues ARGS against node n; returns its stdout."""
    return _run("rabbit-queues", n, *args, capture=True, timeout=timeout)


def _node_number(node_name):
    """1..3 from a node name such as ocrq-c2-5712@localhost."""
    m = re.match(r"ocrq-c([123])-\d+@", node_name or "")
    return int(m.group(1)) if m else None


def queue_leader(queue, vhost=None, ask=(1, 2, 3)):
    """Which node (1..3) leads quorum queue `queue`, asking the first running node of
    `ask`; None while it has no leader. Raises TestFailure if no node knows the queue."""
    vhost = vhost or h.amqp_vhost()
    errors = []
    for n in ask:
        try:
            out = rabbit_ctl(n, "list_queues", "-p", vhost, "name", "leader", "--formatter", "json",
                             timeout=60)
        except h.TestFailure as e:
            errors.append(str(e))
            continue
        for q in json.loads(out or "[]"):
            if q.get("name") == queue:
                return _node_number(q.get("leader"))
        raise h.TestFailure(f"node {n} does not list queue {queue!r} in vhost {vhost!r}")
    raise h.TestFailure(f"no node answered list_queues: {errors}")


def queue_members(queue, vhost=None, ask=(1, 2, 3)):
    """{"members": [1, 2, 3], "online": [...], "leader": n} of quorum queue `queue`."""
    vhost = vhost or h.amqp_vhost()
    for n in ask:
        try:
            out = rabbit_ctl(n, "list_queues", "-p", vhost, "name", "leader", "members", "online",
                             "--formatter", "json", timeout=60)
        except h.TestFailure:
            continue
        for q in json.loads(out or "[]"):
            if q.get("name") == queue:
                return {"leader": _node_number(q.get("leader")),
                        "members": sorted(filter(None, map(_node_number, q.get("members") or []))),
                        "online": sorted(filter(None, map(_node_number, q.get("online") or [])))}
        raise h.TestFailure(f"node {n} does not list queue {queue!r}")
    raise h.TestFailure("no node answered list_queues")


def wait_queue_leader(queue, not_on=None, timeout=60):
    """Wait until quorum queue `queue` has a leader (other than node not_on); returns it."""
    ask = tuple(n for n in (1, 2, 3) if n != not_on)
    found = {}

    def elected():
        found["n"] = queue_leader(queue, ask=ask)
        return found["n"] is not None and found["n"] != not_on
    h.wait_until(elected, timeout=timeout, what=f"a leader for {queue}", interval=0.5,
                 ignore=(h.TestFailure,))
    return found["n"]


# --------------------------------------------------------------------------
# PostgreSQL: standby, promotion, synchronous commit, primary crash

def pg_standby_start():
    """Start a streaming standby of the scripts/services primary (a fresh base backup);
    returns its URL (database ocrq, user ocrq)."""
    _register()
    if not _running("pg standby"):
        _started.add("standby")
    _run("pg-standby-start")
    return pg_standby_url()


def pg_standby_stop():
    _run("pg-standby-stop")
    _started.discard("standby")


def _pg_env():
    out = _run("pg-env", capture=True)
    return {k: v for k, v in re.findall(r"export (\w+)='([^']*)'", out)}


def pg_standby_url():
    return _pg_env()["OCRQ_PG_STANDBY_URL"]


def pg_failover_url():
    """postgresql://primary,standby/ocrq?target_session_attrs=read-write"""
    return _pg_env()["OCRQ_PG_FAILOVER_URL"]


def pg_promote():
    """Promote the standby (pg_ctl promote -w: returns once it takes writes)."""
    _run("pg-promote")


def pg_sync(port, on):
    """synchronous_standby_names = '*' (on) or '' (off) on the server at `port`."""
    _register()
    _run("pg-sync", "on" if on else "off", port)
    if on:
        _sync_ports.add(int(port))
    else:
        _sync_ports.discard(int(port))


def pg_kill_primary(immediate=False):
    """SIGKILL the scripts/services postmaster and its backends (immediate: pg_ctl stop
    -m immediate). It is started again when the test exits, unless the test does
    (harness.services("pg-start"))."""
    global _killed_primary
    _register()
    _killed_primary = True
    _run("pg-kill-primary", *(["--immediate"] if immediate else []))


# --------------------------------------------------------------------------
# PgBouncer

def pgbouncer_start(pool=4):
    """Start PgBouncer (pool_mode transaction, default_pool_size pool) before the
    scripts/services PostgreSQL; returns its URL. A running one is stopped first when
    its pool size differs."""
    _register()
    if _running("pgbouncer"):
        conf = Path(_status_run_dir()) / "pgbouncer" / "pgbouncer.ini"
        try:
            same = f"default_pool_size = {pool}\n" in conf.read_text()
        except OSError:
            same = False
        if not same:
            _run("pgbouncer-stop")
    if not _running("pgbouncer"):
        _started.add("pgbouncer")
    e = _env()
    e["OCRQ_PGBOUNCER_POOL"] = str(pool)
    log_path = _log_path()
    with open(log_path, "ab") as log:
        r = subprocess.run([str(CLUSTER), "pgbouncer-start"], stdin=subprocess.DEVNULL, stdout=log,
                           stderr=subprocess.STDOUT, timeout=120, env=e)
    if r.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise h.TestFailure(f"scripts/cluster pgbouncer-start exited {r.returncode}: {tail}")
    return pgbouncer_url()


def pgbouncer_stop():
    _run("pgbouncer-stop")
    _started.discard("pgbouncer")


def pgbouncer_url():
    out = _run("pgbouncer-env", capture=True)
    m = re.search(r"OCRQ_PGBOUNCER_URL=(\S+)", out)
    if not m:
        raise h.TestFailure(f"scripts/cluster pgbouncer-env printed {out!r}")
    return shlex.split(m.group(1))[0]


def _status_run_dir():
    """OCRQ_RUN_DIR as scripts/lib.sh works it out for this environment."""
    r = subprocess.run(["bash", "-c", '. "$1"; printf %s "$OCRQ_RUN_DIR"', "_",
                        str(h.SOURCE_DIR / "scripts" / "lib.sh")],
                       capture_output=True, text=True, timeout=30, env=_env())
    return r.stdout


# --------------------------------------------------------------------------

def stop_all():
    """Stop every server of scripts/cluster (and set synchronous_standby_names back to ''
    on the primary); a primary this process killed is started again first."""
    global _killed_primary
    if _killed_primary:
        _services_pg_start()
        _killed_primary = False
    _run("stop-all")   # also sets the primary's synchronous_standby_names back to ''
    _sync_ports.clear()
    _started.clear()
    _stopped_nodes.clear()


def status():
    """scripts/cluster status as {what: text}."""
    return _status()
