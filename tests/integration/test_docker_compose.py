# SPDX-License-Identifier: GPL-3.0-or-later
"""docker/ without a Docker engine (none runs on these machines): Debian's
docker-compose accepts docker/compose.yml, whose services, health checks,
start order and ports are the ones docker/README.md describes; the
Dockerfile builds on debian:bookworm in two stages, ends as a non-root user,
copies only files that exist and installs the runtime library of every -dev
package it builds with; every binary the image and the services run is
installed by `cmake --install`; docker/ocrq.conf passes the real config
loader. Needs no broker or database; stops at the first failed check."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

SOURCE_DIR = Path(os.environ.get("OCRQ_SOURCE_DIR") or Path(__file__).resolve().parents[2])
DOCKER_DIR = SOURCE_DIR / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yml"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
CONTAINER_CONF = DOCKER_DIR / "ocrq.conf"
DOCKER_COMPOSE = shutil.which("docker-compose") or "/usr/bin/docker-compose"
SCRATCH_BUILD_DIR = Path("/tmp/ocrq-docker-test-build")

BASE_IMAGE = "debian:bookworm"
SERVICES = ("rabbitmq", "postgres", "setup", "ocrq-api", "ocrq-worker")
OURS = ("setup", "ocrq-api", "ocrq-worker")    # services running the ocrq image
ONE_SHOT = ("setup",)
API_PORT = 8080
CLOSED_AMQP_URL = "amqp://guest:guest@127.0.0.1:1/"    # port 1: refused at once
CLOSED_DATABASE_URL = "postgresql://ocrq@127.0.0.1:1/ocrq?connect_timeout=2"
EXIT_CONFIG, EXIT_UNAVAILABLE = 2, 3                   # ocrq-admin --help

NAME = Path(sys.argv[0]).stem
passed = 0


def check(ok, what, detail=""):
    """One check: print it; the first failure ends the test with exit 1."""
    global passed
    if ok:
        passed += 1
        print(f"PASS: {what}", flush=True)
        return
    print(f"FAIL: {what}" + (f"\n      {detail}" if detail else ""), flush=True)
    print(f"{NAME}: {passed} passed, 1 failed", flush=True)
    sys.exit(1)


def run(argv, timeout=120, **kw):
    argv = [str(a) for a in argv]
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        check(False, f"{' '.join(argv)} finishes within {timeout} s")
    except OSError as e:
        check(False, f"{argv[0]} can be run", e)


# --------------------------------------------------------------------------
# compose.yml

def compose_config():
    """`docker-compose config` of compose.yml, parsed; the defaults of ${VAR:-x} apply."""
    check(os.access(DOCKER_COMPOSE, os.X_OK), "docker-compose is installed",
          "not found: run scripts/install-deps (Debian package docker-compose)")
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("COMPOSE_", "DOCKER_", "OCRQ_"))}
    r = run([DOCKER_COMPOSE, "-f", COMPOSE_FILE, "config"], env=environ, cwd=SOURCE_DIR)
    check(r.returncode == 0, "docker-compose -f docker/compose.yml config exits 0",
          r.stderr.strip()[-2000:])
    try:
        cfg = yaml.safe_load(r.stdout)
    except yaml.YAMLError as e:
        check(False, "docker-compose config prints YAML", e)
    check(isinstance(cfg, dict) and isinstance(cfg.get("services"), dict),
          "docker-compose config prints a services map", r.stdout[:500])
    return cfg


def depends_condition(svc, on):
    dep = svc.get("depends_on") or {}
    if isinstance(dep, list):   # the short form has no condition
        return "listed, no condition" if on in dep else None
    return (dep.get(on) or {}).get("condition") if on in dep else None


def health_test(svc):
    """The health check command as one string; "" if none or disabled."""
    hc = svc.get("healthcheck") or {}
    test = hc.get("test") or []
    if hc.get("disable") or test in ("NONE", ["NONE"]):
        return ""
    return " ".join(test) if isinstance(test, list) else str(test)


def volume_sources(svc):
    """The source of each mount: a volume name or a host path ("src:dst[:mode]" or long form)."""
    return [v.get("source") if isinstance(v, dict) else str(v).split(":")[0]
            for v in svc.get("volumes") or []]


def published_ports(svc):
    """(host, container) port pairs; docker-compose config writes the long form."""
    out = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            out.append((p.get("published"), p.get("target")))
        else:                   # "8080:8080" or "127.0.0.1:8080:8080/tcp"
            parts = str(p).split("/")[0].split(":")
            out.append((parts[-2] if len(parts) > 1 else None, parts[-1]))
    return [(None if h is None else int(h), int(c)) for h, c in out]


def check_compose(cfg, metrics_port):
    services = cfg["services"]
    missing = [s for s in SERVICES if s not in services]
    check(not missing, f"compose.yml has the services {', '.join(SERVICES)}",
          f"missing: {missing}; has {sorted(services)}")

    for name in SERVICES:
        if name in ONE_SHOT:
            continue
        check(health_test(services[name]), f"{name} has a health check",
              services[name].get("healthcheck"))
    rabbit, pg = health_test(services["rabbitmq"]), health_test(services["postgres"])
    check("rabbitmq-diagnostics" in rabbit and "ping" in rabbit,
          "rabbitmq's health check is rabbitmq-diagnostics ping", rabbit)
    check("pg_isready" in pg, "postgres's health check is pg_isready", pg)
    check(any(src in (cfg.get("volumes") or {}) for src in volume_sources(services["postgres"])),
          "postgres keeps its data in a named volume", services["postgres"].get("volumes"))

    for on in ("rabbitmq", "postgres"):
        cond = depends_condition(services["setup"], on)
        check(cond == "service_healthy", f"setup waits for {on} to be healthy", cond)
    check(services["setup"].get("restart") in (None, "no"), "setup is not restarted (one-shot)",
          services["setup"].get("restart"))
    for name in ("ocrq-api", "ocrq-worker"):
        cond = depends_condition(services[name], "setup")
        check(cond == "service_completed_successfully",
              f"{name} starts only after setup exited 0", cond)

    images = {}
    for name in OURS:
        svc = services[name]
        build = svc.get("build") or {}
        ctx = Path(build.get("context", "")).resolve() if build.get("context") else None
        check(ctx == SOURCE_DIR.resolve() and build.get("dockerfile") == "docker/Dockerfile",
              f"{name} builds docker/Dockerfile with the repository root as context", build)
        images[name] = svc.get("image")
        env = svc.get("environment") or {}
        for var, host in (("OCRQ_AMQP_URL", "@rabbitmq:"), ("OCRQ_DATABASE_URL", "@postgres:")):
            check(host in (env.get(var) or ""), f"{name}: {var} names the {host[1:-1]} service",
                  env.get(var))
    check(len(set(images.values())) == 1 and None not in images.values(),
          "setup, ocrq-api and ocrq-worker run one image", images)

    api = services["ocrq-api"]
    check(api.get("command") == ["ocrq-api"], "ocrq-api runs ocrq-api", api.get("command"))
    check(any(c == API_PORT and h is not None for h, c in published_ports(api)),
          f"ocrq-api publishes port {API_PORT}", api.get("ports"))
    listen = (api.get("environment") or {}).get("OCRQ_API_LISTEN") or ""
    check(listen == f"0.0.0.0:{API_PORT}", f"ocrq-api listens on 0.0.0.0:{API_PORT}", listen)
    check(f"127.0.0.1:{API_PORT}/healthz" in health_test(api), "ocrq-api's health check is /healthz",
          health_test(api))

    worker = services["ocrq-worker"]
    check(worker.get("command") == ["ocrq-worker"], "ocrq-worker runs ocrq-worker",
          worker.get("command"))
    check("container_name" not in worker, "ocrq-worker has no container_name (it scales)",
          worker.get("container_name"))
    check(not worker.get("ports"), "ocrq-worker publishes no host port (it scales)",
          worker.get("ports"))
    check(f"127.0.0.1:{metrics_port}/healthz" in health_test(worker),
          f"ocrq-worker's health check is /healthz on worker.metrics_listen's port {metrics_port}",
          health_test(worker))


# --------------------------------------------------------------------------
# Dockerfile

def dockerfile_instructions(text):
    """[(INSTRUCTION, args)] with comments dropped and continuation lines joined."""
    out, cur = [], ""
    for line in text.splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if cur and line.lstrip().startswith("#"):   # comment inside a continued line
            continue
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        word, _, args = cur.strip().partition(" ")
        out.append((word.upper(), args.strip()))
        cur = ""
    if cur.strip():
        word, _, args = cur.strip().partition(" ")
        out.append((word.upper(), args.strip()))
    return out


def split_stages(instrs):
    """[(image, stage name, [instructions])] per FROM."""
    stages = []
    for word, args in instrs:
        if word == "FROM":
            toks = [t for t in args.split() if not t.startswith("--")]
            name = toks[2] if len(toks) >= 3 and toks[1].lower() == "as" else None
            stages.append((toks[0] if toks else "", name, []))
        elif stages:
            stages[-1][2].append((word, args))
    return stages


def copy_sources(args):
    """(flags, sources, destination) of a COPY or ADD, shell or JSON form."""
    toks = shlex.split(args)
    flags = [t for t in toks if t.startswith("--")]
    rest = [t for t in toks if not t.startswith("--")]
    if args.lstrip().startswith("[") or (rest and rest[0].startswith("[")):
        rest = json.loads(args[args.index("["):])
    return flags, rest[:-1], rest[-1] if rest else ""


def env_settings(stage_instrs):
    env = {}
    for word, args in stage_instrs:
        if word != "ENV":
            continue
        toks = shlex.split(args)
        if toks and "=" not in toks[0]:     # legacy "ENV KEY value"
            env[toks[0]] = " ".join(toks[1:])
            continue
        for t in toks:
            k, _, v = t.partition("=")
            env[k] = v
    return env


def dev_runtime_libs(dev):
    """The runtime libraries an installed -dev package pins to its own version."""
    r = run(["dpkg-query", "-W", "-f", "${Depends}", dev], timeout=30)
    if r.returncode != 0:
        return None
    libs = []
    for alt in r.stdout.split(","):
        for dep in alt.split("|"):
            m = re.match(r"\s*([a-z0-9.+-]+)(:\w+)?\s*\(=", dep)
            # gir1.2-*: GObject introspection data for language bindings, not linked by C
            if m and not m.group(1).endswith("-dev") and not m.group(1).startswith("gir1.2-"):
                libs.append(m.group(1))
    return libs


def linked_packages():
    """Debian packages of the shared libraries the built ocrq binaries load (ldd),
    or None without a build: then every pinned library of a -dev counts."""
    bindir = Path(os.environ.get("OCRQ_BIN_DIR") or SOURCE_DIR / "build") / "bin"
    bins = sorted(bindir.glob("ocrq-*")) if bindir.is_dir() else []
    if not bins:
        return None
    paths = set()
    for b in bins:
        r = run(["ldd", b], timeout=30)
        paths.update(os.path.realpath(m.group(1)) for m in re.finditer(r"=> (/\S+)", r.stdout))
    pkgs = set()
    if paths:  # one dpkg -S for all (a path no package owns is only left out)
        q = run(["dpkg", "-S", *sorted(paths)], timeout=60)
        for line in q.stdout.splitlines():
            if ": " in line:
                pkgs.update(x.strip().split(":")[0] for x in line.split(": ")[0].split(","))
    return pkgs


def apt_packages(stage_instrs):
    pkgs = []
    for word, args in stage_instrs:
        if word == "RUN" and "apt-get install" in args:
            after = args.split("apt-get install", 1)[1].split("&&")[0]
            pkgs += [t for t in after.split() if not t.startswith("-")]
    return pkgs


def check_dockerfile():
    check(DOCKERFILE.is_file(), "docker/Dockerfile exists")
    instrs = dockerfile_instructions(DOCKERFILE.read_text())
    stages = split_stages(instrs)
    names = [n for _, n, _ in stages if n]
    bases = [img for img, _, _ in stages if img not in names]
    check(len(stages) >= 2 and sum(1 for b in bases if b == BASE_IMAGE) >= 2
          and all(b == BASE_IMAGE for b in bases),
          f"Dockerfile has at least two stages, all on {BASE_IMAGE}",
          [img for img, _, _ in stages])

    final = stages[-1][2]
    users = [args.split(":")[0].strip() for word, args in final if word == "USER"]
    check(users and users[-1] not in ("root", "0"),
          "the final stage runs as a non-root USER", users or "no USER line")

    for i, (_, _, body) in enumerate(stages):
        for word, args in body:
            if word not in ("COPY", "ADD"):
                continue
            flags, srcs, _ = copy_sources(args)
            frm = [f.split("=", 1)[1] for f in flags if f.startswith("--from=")]
            if frm:
                check(frm[0] in names[:i] or frm[0].isdigit(),
                      f"COPY --from={frm[0]} names an earlier stage", names)
                continue
            for src in srcs:
                path = (SOURCE_DIR / src).resolve()
                check(path.exists() and str(path).startswith(str(SOURCE_DIR.resolve())),
                      f"COPY source {src} exists in the repository")

    env = env_settings(final)
    check(env.get("OMP_THREAD_LIMIT") == "1", "the image sets OMP_THREAD_LIMIT=1",
          env.get("OMP_THREAD_LIMIT"))
    conf_dest = [copy_sources(a)[2] for w, a in final
                 if w == "COPY" and "docker/ocrq.conf" in copy_sources(a)[1]]
    check(env.get("OCRQ_CONFIG") and env.get("OCRQ_CONFIG") in conf_dest,
          "OCRQ_CONFIG names where docker/ocrq.conf is copied",
          f"OCRQ_CONFIG={env.get('OCRQ_CONFIG')}, docker/ocrq.conf copied to {conf_dest}")

    build_pkgs = [p for stage in stages[:-1] for p in apt_packages(stage[2])]
    runtime_pkgs = set(apt_packages(final))
    devs = [p for p in build_pkgs if p.endswith("-dev")]
    check(devs, "the build stage installs -dev packages", build_pkgs)
    linked = linked_packages()
    for dev in devs:
        libs = dev_runtime_libs(dev)
        check(libs is not None, f"{dev} is installed here, to look up its runtime library",
              "run scripts/install-deps (or the Dockerfile builds with a package it does not)")
        # with a build at hand, only what the binaries load (cairo's gobject and
        # script libraries, say, are pinned by libcairo2-dev but never loaded)
        needed = [lib for lib in libs if linked is None or lib in linked] or libs
        lacking = [lib for lib in needed if lib not in runtime_pkgs]
        check(not lacking, f"the runtime stage installs the library of {dev} ({', '.join(needed)})",
              f"missing: {lacking}")
    for pkg in ("tesseract-ocr-eng", "tesseract-ocr-osd", "curl", "ca-certificates"):
        check(pkg in runtime_pkgs, f"the runtime stage installs {pkg}")

    return instrs


# --------------------------------------------------------------------------
# Binaries and config

def build_dir():
    """A configured and built tree: $OCRQ_BIN_DIR (ctest's), else build/, else one made here."""
    for d in (os.environ.get("OCRQ_BIN_DIR"), SOURCE_DIR / "build"):
        if d and (Path(d) / "CMakeCache.txt").is_file():
            return Path(d)
    print(f"note: no build tree; configuring and building {SCRATCH_BUILD_DIR} (minutes)", flush=True)
    r = run(["cmake", "-S", SOURCE_DIR, "-B", SCRATCH_BUILD_DIR, "-DCMAKE_BUILD_TYPE=Release"],
            timeout=300)
    check(r.returncode == 0, "cmake configures a scratch build", r.stderr[-2000:])
    r = run(["cmake", "--build", SCRATCH_BUILD_DIR, "-j2"], timeout=1800)
    check(r.returncode == 0, "the scratch build builds", r.stderr[-2000:])
    return SCRATCH_BUILD_DIR


def referenced_binaries(instrs, cfg):
    """Every ocrq-* program named in Dockerfile instructions and compose commands."""
    names = set()
    for word, args in instrs:
        if word in ("RUN", "CMD", "ENTRYPOINT"):
            names.update(re.findall(r"\bocrq-[a-z]+\b", args))
    for svc in cfg["services"].values():
        cmd = svc.get("command") or []
        cmd = shlex.split(cmd) if isinstance(cmd, str) else cmd
        names.update(c for c in cmd[:1] if c.startswith("ocrq-"))
    return sorted(names)


def check_installed(names, bdir, tmp):
    check(names, "the Dockerfile and compose.yml name ocrq binaries", names)
    prefix = tmp / "prefix"
    manifest = bdir / "install_manifest.txt"     # cmake --install leaves it in the build tree
    had_manifest = manifest.exists()
    r = run(["cmake", "--install", bdir, "--prefix", prefix], timeout=120)
    if not had_manifest:
        manifest.unlink(missing_ok=True)
    check(r.returncode == 0, f"cmake --install {bdir} works",
          (r.stderr or r.stdout).strip()[-2000:])
    for name in names:
        hint = ""
        if name == "ocrq-api":
            hint = ("no install(TARGETS ocrq-api ...) rule yet (producer/CMakeLists.txt), "
                    "or the build tree is older than it")
        check(os.access(prefix / "bin" / name, os.X_OK),
              f"cmake --install installs {name} (bin/{name})", hint)


def check_container_conf(bdir, tmp):
    admin = bdir / "bin" / "ocrq-admin"
    check(os.access(admin, os.X_OK), "ocrq-admin is built", admin)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OCRQ_")}
    environ.update(OCRQ_AMQP_URL=CLOSED_AMQP_URL, OCRQ_DATABASE_URL=CLOSED_DATABASE_URL)

    # The method first: a config error is exit 2, so exit 3 below means the file was accepted.
    bad = tmp / "unknown-key.conf"
    bad.write_text(CONTAINER_CONF.read_text() + "\nworker: { no_such_key = 1; };\n")
    r = run([admin, "-c", bad, "status"], timeout=60, env=environ)
    check(r.returncode == EXIT_CONFIG and "unknown-key.conf:" in r.stderr,
          f"ocrq-admin refuses a config with an error (exit {EXIT_CONFIG})",
          (r.returncode, r.stderr.strip()))

    r = run([admin, "-c", CONTAINER_CONF, "status"], timeout=60, env=environ)
    check(r.returncode == EXIT_UNAVAILABLE and "ocrq.conf:" not in r.stderr,
          f"docker/ocrq.conf loads: ocrq-admin gets as far as connecting (exit {EXIT_UNAVAILABLE})",
          (r.returncode, r.stderr.strip()))


def metrics_listen_port():
    text = CONTAINER_CONF.read_text() if CONTAINER_CONF.is_file() else ""
    m = re.search(r'^\s*metrics_listen\s*[=:]\s*"([^"]*):(\d+)"', text, re.M)
    check(m is not None, "docker/ocrq.conf sets worker.metrics_listen to host:port")
    check(m.group(1) in ("0.0.0.0", "::", "[::]"),
          "worker.metrics_listen is on every interface (reachable on the compose network)",
          m.group(1))
    return int(m.group(2))


def main():
    print(f"== {NAME}  (source {SOURCE_DIR})", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"ocrq-{NAME}-"))
    try:
        port = metrics_listen_port()
        cfg = compose_config()
        check_compose(cfg, port)
        instrs = check_dockerfile()
        bdir = build_dir()
        check_container_conf(bdir, tmp)
        check_installed(referenced_binaries(instrs, cfg), bdir, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{NAME}: {passed} passed, 0 failed", flush=True)


if __name__ == "__main__":
    main()
