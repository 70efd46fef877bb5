#!/usr/bin/env python3
"""ssefeed benchmark: the release build of `ssefeed` and its peers on one deterministic
workload served on 127.0.0.1, one table on stdout and the same as JSON.

    python3 bench/bench.py                  # everything, N=500 M=50, 3 runs (~10 min on 2 cores once the tools are installed)
    python3 bench/bench.py --quick          # ssefeed cold/warm/churn + network floor, 1 run
    python3 bench/bench.py --only cold,warm,peers --runs 5 --n 2000

Figures (--only/--skip take these names):
  cold     a. cold cycle (empty database): wall, CPU, peak RSS; stories stored vs the manifest
  warm     b. warm cycle (nothing changed): wall, requests, database rows written, files rewritten
  churn    c. churn cycle (10% of the sources changed): wall, new stories vs expected
  publish  d. `ssefeed publish` with 10^4, 10^5, 10^6 stored entries (rows synthesised by copying)
  serve    e. `ssefeed run`: requests/s and p99 for /atom.xml, with and without If-None-Match (wrk)
  parse    f. parse throughput against a quick-xml scan of the same bytes (bench/parse, Rust)
  curl     g. the network floor: the N feeds by `curl --parallel --parallel-max 16`
  peers    h. rss-cli 0.7.0, Python reader, newsboat: cold and warm cycle on the same workload
  scale    cold and warm cycle for N = 100, 500, 2000, interleaved round by round
  scrape   i. HTML listings with article pages (ssefeed only): cold and warm cycle

Every measured command runs in a fresh child process; its CPU time and peak RSS come
from wait4(2) on that child. Figures are the median of --runs runs, with min and max.
Missing tools are installed (apt-get, cargo install, a venv from PyPI) unless
--no-install is given; a figure whose tool cannot be had is reported as skipped, with why.
"""
import argparse
import datetime
import glob
import hashlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import workload  # noqa: E402  (bench/workload.py: the deterministic generator)

ALL_FIGURES = ["cold", "warm", "churn", "publish", "serve", "parse", "curl", "peers", "scale", "scrape"]
QUICK_FIGURES = ["cold", "warm", "churn", "curl"]
TOOLS_DIR = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "ssefeed-bench")
RSS_CLI_VERSION = "0.7.0"
READER_VERSION = "3.27"
# Columns of `sources` that record an attempt (health), not content: the warm
# cycle may write these and nothing else.
ATTEMPT_COLUMNS = {"last_attempt", "last_success", "last_outcome", "last_status", "last_error",
                   "consecutive_failures", "retry_after"}
TAGS = ["cooperatives", "mutuals", "policy", "research", "networks"]


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- measuring


class Run:
    """One child process: wall time, CPU time and peak RSS from wait4(2)."""

    def __init__(self, wall, cpu, rss_mb, code, out, err):
        self.wall, self.cpu, self.rss_mb, self.code, self.out, self.err = wall, cpu, rss_mb, code, out, err

    def ok(self):
        return self.code == 0


GNU_TIME = "/usr/bin/time"


def run_measured(cmd, env=None, cwd=None, ok_codes=(0,), check=True):
    """Runs `cmd` to completion in a fresh child and measures it.

    CPU time and peak RSS come from GNU time, which forks the command from its own
    small process: Linux carries a process's peak RSS across exec, so a command
    forked straight from this (large) Python process would report this process's
    size as its own. Without GNU time, wait4(2) is used and RSS is an upper bound."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".time") as tfile:
        use_time = os.access(GNU_TIME, os.X_OK)
        full = [GNU_TIME, "-f", "%U %S %M", "-o", tfile.name, *cmd] if use_time else list(cmd)
        started = time.perf_counter()
        proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu, rss_mb = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
        if use_time:
            fields = (tfile.read().strip().splitlines() or [""])[-1].split()
            if len(fields) == 3:
                cpu, rss_mb = float(fields[0]) + float(fields[1]), int(fields[2]) / 1024
        out.seek(0), err.seek(0)
        run = Run(wall, cpu, rss_mb, proc.returncode,
                  out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))
    if check and run.code not in ok_codes:
        tail = "\n".join((run.err or run.out).strip().splitlines()[-15:])
        raise RuntimeError(f"{' '.join(map(str, cmd[:4]))} ... exited {run.code}:\n{tail}")
    return run


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, headers=None, timeout=10):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, dict(resp.headers), resp.read()


# ---------------------------------------------------------------- the partner server


class PartnerServer:
    """bench/serve.py on 127.0.0.1 over a workload directory; counts requests."""

    def __init__(self, root, workdir):
        portfile = os.path.join(workdir, f"port-{os.getpid()}-{time.monotonic_ns()}")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "serve.py"), root, portfile,
                                      "--max-seconds", "7200"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not os.path.exists(portfile):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the partner server (bench/serve.py) did not start")
            time.sleep(0.02)
        with open(portfile) as fh:
            self.port = int(fh.read())
        self.base = f"http://127.0.0.1:{self.port}/"

    def stats(self, reset=False):
        _, _, body = http_get(self.base + "__stats" + ("?reset=1" if reset else ""))
        return json.loads(body)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def request_counts(stats):
    return {"requests": stats["requests"], "conditional": stats["conditional"],
            "status": dict(sorted(stats["status"].items()))}


# ---------------------------------------------------------------- the workload


class Workload:
    """A generated workload directory, its feeds and the manifest."""

    def __init__(self, root, n, m, html, seed):
        self.root, self.n, self.m, self.html, self.seed = root, n, m, html, seed
        if not os.path.exists(os.path.join(root, "manifest.json")):
            log(f"generating the workload N={n} M={m} (+{html} HTML listings) in {root}")
            subprocess.run([sys.executable, os.path.join(HERE, "workload.py"), str(n), str(m), root,
                            "--seed", str(seed), "--html", str(html)], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(root, "manifest.json")) as fh:
            self.manifest = json.load(fh)
        with open(os.path.join(root, "feeds.txt")) as fh:
            self.feeds = [line.strip() for line in fh if line.strip()]
        with open(os.path.join(root, "html.txt")) as fh:
            self.listings = [line.strip() for line in fh if line.strip()]
        self._items = None

    def items(self):
        if self._items is None:
            self._items = workload.build(self.n, self.m, self.seed)
        return self._items

    def churn(self, fraction, round_no, count=None):
        """Rewrites `fraction` of the feeds with new items at the top (new bodies, so new
        ETags, and newer mtimes). Returns (restore, new_items): restore() puts the
        original files back byte for byte, mtimes included."""
        rng = random.Random(1000 + round_no)
        count = count if count is not None else max(1, round(self.n * fraction))
        chosen = sorted(rng.sample(range(self.n), count))
        fresh = max(1, self.m // 10)
        saved = []
        feeds = self.items()
        for i in chosen:
            path = os.path.join(self.root, self.feeds[i])
            st = os.stat(path)
            with open(path, "rb") as fh:
                saved.append((path, fh.read(), st.st_atime_ns, st.st_mtime_ns))
            new = [dict(guid=f"p{i:04d}-r{round_no}-{j}",
                        link=f"{workload.SITE}/p{i:04d}/news/r{round_no}-{j}",
                        canon=None, title=workload.sentence(rng, 6).capitalize(),
                        when=workload.BASE_TIME + timedelta(hours=round_no * 24 + j + 1),
                        summary="<p>" + workload.escape(workload.sentence(rng, 40)) + "</p>",
                        author=f"Partner {i}") for j in range(fresh)]
            items = sorted(new, key=lambda it: it["when"], reverse=True) + feeds[i][:self.m - fresh]
            kind = "atom" if i % 10 in (7, 8) else "json" if i % 10 == 9 else "rss"
            body = {"rss": workload.rss, "atom": workload.atom, "json": workload.jsonfeed}[kind](i, items)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(body)
            t = workload.BASE_TIME.timestamp() + 3600 * (round_no + 1)
            os.utime(path, (t, t))

        def restore():
            for path, data, atime, mtime in saved:
                with open(path, "wb") as fh:
                    fh.write(data)
                os.utime(path, ns=(atime, mtime))
        return restore, len(chosen) * fresh


# ---------------------------------------------------------------- ssefeed


def toml_str(s):
    return json.dumps(s)  # a JSON string is a valid TOML basic string


def write_ssefeed_config(cfg_dir, base_url, feeds, listings=(), listen=None):
    """A bench config: N feed sources (p0000...), optional scraped listings (h000...)."""
    os.makedirs(cfg_dir, exist_ok=True)
    listen = listen or f"127.0.0.1:{free_port()}"
    with open(os.path.join(cfg_dir, "ssefeed.toml"), "w") as fh:
        fh.write(f"""sources = "sources.toml"
[feed]
title = "SSE news wire (benchmark)"
description = "Benchmark workload"
link = "http://{listen}/"
base_url = "http://{listen}/"
max_items = 100
[storage]
database = "data/ssefeed.db"
[publish]
output_dir = "public"
[fetch]
concurrency = 16
# All partners are one host here (127.0.0.1); the politeness limit would make
# this a benchmark of one connection pair. Real partners are distinct hosts.
per_host = 16
timeout_secs = 30
[server]
listen = "{listen}"
""")
    out = []
    for i, rel in enumerate(feeds):
        sid = os.path.basename(rel).split(".")[0]
        out.append(f'[[source]]\nid = "{sid}"\nname = "Partner {i}"\nurl = {toml_str(base_url + rel)}\n'
                   f'tags = ["{TAGS[i % len(TAGS)]}"]\n')
    for rel in listings:
        sid = rel.split("/")[1]
        out.append(f'[[source]]\nid = "{sid}"\nname = "Listing {sid}"\nurl = {toml_str(base_url + rel)}\n'
                   '[source.scrape]\nitem = "li.news-item"\ntitle = "h3"\nlink = "h3 a"\ndate = ".date"\n'
                   '[source.scrape.article]\ndate = ".article-date"\nsummary = ".subtitle"\n'
                   'content = ".article-body"\n')
    with open(os.path.join(cfg_dir, "sources.toml"), "w") as fh:
        fh.write("\n".join(out))
    return os.path.join(cfg_dir, "ssefeed.toml"), listen


def db_snapshot(db):
    """Every row of every table, keyed by primary key, as a digest (read after the writer exited)."""
    if not os.path.exists(db):
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        snap = {}
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            cols = conn.execute(f"PRAGMA table_info({t})").fetchall()
            names = [c[1] for c in cols]
            pk = [c[1] for c in sorted(cols, key=lambda c: c[5]) if c[5] > 0] or ["rowid"]
            keep = [n for n in names if not (t == "sources" and n in ATTEMPT_COLUMNS)]
            rows = {}
            sel = ", ".join(pk + keep)
            for row in conn.execute(f"SELECT {sel} FROM {t}"):
                rows[row[:len(pk)]] = hashlib.blake2b(repr(row[len(pk):]).encode(), digest_size=12).digest()
            snap[t] = rows
        return snap
    finally:
        conn.close()


def db_diff(before, after):
    """Rows inserted, deleted or changed per table (attempt columns of `sources` ignored)."""
    diff = {}
    for t in sorted(set(before) | set(after)):
        b, a = before.get(t, {}), after.get(t, {})
        ins = sum(1 for k in a if k not in b)
        dele = sum(1 for k in b if k not in a)
        upd = sum(1 for k in a if k in b and a[k] != b[k])
        if ins or dele or upd:
            diff[t] = {"inserted": ins, "deleted": dele, "updated": upd}
    return diff


def files_snapshot(root):
    snap = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            st = os.stat(path)
            snap[os.path.relpath(path, root)] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return snap


def files_changed(before, after):
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


class Ssefeed:
    def __init__(self, binary):
        self.binary = binary
        self.env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn,ssefeed=info"), NO_COLOR="1")

    def run(self, cfg, *args, ok_codes=(0,)):
        return run_measured([self.binary, "-c", cfg, *args], env=self.env, ok_codes=ok_codes)

    def status(self, cfg):
        run = self.run(cfg, "status", "--json")
        return json.loads(run.out)


def cycle(tool, cfg, server, cfg_dir):
    """One `ssefeed fetch`, with what it cost and what it changed."""
    db = os.path.join(cfg_dir, "data", "ssefeed.db")
    public = os.path.join(cfg_dir, "public")
    db_before, files_before = db_snapshot(db), files_snapshot(public)
    wal_before = sum(os.path.getsize(p) for p in glob.glob(db + "*"))
    server.stats(reset=True)
    run = tool.run(cfg, "fetch")
    reqs = request_counts(server.stats())
    diff = db_diff(db_before, db_snapshot(db))
    wal_after = sum(os.path.getsize(p) for p in glob.glob(db + "*"))
    changed = files_changed(files_before, files_snapshot(public))
    return {"wall": run.wall, "cpu": run.cpu, "rss_mb": run.rss_mb, **reqs,
            "db_rows_written": sum(v["inserted"] + v["deleted"] + v["updated"] for v in diff.values()),
            "db_diff": diff, "db_bytes_delta": wal_after - wal_before,
            "files_rewritten": len(changed), "files_rewritten_sample": changed[:5],
            "publish_line": next((line for line in run.out.splitlines() if line.startswith("published")), "")}


def ssefeed_cycles(tool, wl, server, tmp, runs, churn=True, tag="main"):
    """Runs × (cold, warm, churn) on fresh config dirs. Returns lists of cycle records."""
    res = {"cold": [], "warm": [], "churn": [], "stories": [], "stories_after_churn": [], "churn_expected": []}
    for r in range(runs):
        cfg_dir = os.path.join(tmp, f"ssefeed-{tag}-n{wl.n}-run{r}")
        shutil.rmtree(cfg_dir, ignore_errors=True)
        cfg, _ = write_ssefeed_config(cfg_dir, server.base, wl.feeds)
        cold = cycle(tool, cfg, server, cfg_dir)
        res["cold"].append(cold)
        res["stories"].append(tool.status(cfg)["totals"]["stories"])
        res["warm"].append(cycle(tool, cfg, server, cfg_dir))
        if churn:
            restore, expected = wl.churn(0.10, r)
            try:
                res["churn"].append(cycle(tool, cfg, server, cfg_dir))
                res["stories_after_churn"].append(tool.status(cfg)["totals"]["stories"] - res["stories"][-1])
                res["churn_expected"].append(expected)
            finally:
                restore()
        log(f"ssefeed N={wl.n} run {r + 1}/{runs}: cold {cold['wall']:.3f}s warm {res['warm'][-1]['wall']:.3f}s"
            + (f" churn {res['churn'][-1]['wall']:.3f}s" if churn else ""))
        res["last_cfg"] = cfg
    return res


# ---------------------------------------------------------------- peers


def curl_floor(wl, server, tmp, runs):
    cfg = os.path.join(tmp, "curl-urls.cfg")
    with open(cfg, "w") as fh:
        for rel in wl.feeds:
            fh.write(f'url = "{server.base}{rel}"\noutput = "/dev/null"\n')
    out = []
    for _ in range(runs):
        server.stats(reset=True)
        run = run_measured(["curl", "--parallel", "--parallel-max", "16", "-s", "-S", "--fail", "-K", cfg])
        out.append({"wall": run.wall, "cpu": run.cpu, "rss_mb": run.rss_mb, **request_counts(server.stats())})
    return out


READER_DRIVER = """
import sys
from reader import make_reader
db, urls = sys.argv[1], sys.argv[2]
reader = make_reader(db)
for url in open(urls).read().split():
    reader.add_feed(url, exist_ok=True)
# scheduled=False: update every feed now (by default reader skips feeds not yet due)
reader.update_feeds(workers=16, scheduled=False)
counts = reader.get_entry_counts()
print(counts.total)
reader.close()
"""


def peer_cycles(name, make_cmds, server, runs):
    """make_cmds(run_dir) -> (cmd, env); cold = first run in a fresh dir, warm = the same again."""
    res = {"cold": [], "warm": []}
    for r in range(runs):
        with tempfile.TemporaryDirectory(prefix=f"ssefeed-bench-{name}-") as d:
            cmd, env = make_cmds(d)
            for phase in ("cold", "warm"):
                server.stats(reset=True)
                run = run_measured(cmd, env=env, cwd=d)
                res[phase].append({"wall": run.wall, "cpu": run.cpu, "rss_mb": run.rss_mb,
                                   **request_counts(server.stats())})
        log(f"{name} run {r + 1}/{runs}: cold {res['cold'][-1]['wall']:.2f}s warm {res['warm'][-1]['wall']:.2f}s")
    return res


def find_python312():
    """A Python >= 3.12 interpreter: PATH, then pyenv's versions. (reader needs >= 3.12.)"""
    cands = [shutil.which(n) for n in ("python3.13", "python3.12")]
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    cands += sorted(glob.glob(os.path.join(root, "versions", "3.1[2-9]*", "bin", "python3")), reverse=True)
    cands += ["/usr/bin/python3.12", "/usr/bin/python3.13", sys.executable]
    for c in cands:
        if not c or not os.path.exists(c):
            continue
        try:
            r = subprocess.run([c, "-c", "import sys; print(sys.version_info >= (3, 12))"], capture_output=True,
                               text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0 and r.stdout.strip() == "True":
            return c
    return None


class Tools:
    """Finds (and unless told not to, installs) the peers and helper tools."""

    def __init__(self, install):
        self.install = install
        self.why = {}

    def apt(self, binary, package):
        if shutil.which(binary):
            return shutil.which(binary)
        if not self.install:
            self.why[binary] = f"missing: apt-get install {package} (or run without --no-install)"
            return None
        if shutil.which("apt-get") and os.geteuid() == 0:
            log(f"installing {package} with apt-get")
            subprocess.run(["apt-get", "update", "-qq"], check=False)
            subprocess.run(["apt-get", "install", "-y", "-qq", package], check=False,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if not shutil.which(binary):
            self.why[binary] = f"missing and not installable here: apt-get install {package}"
        return shutil.which(binary)

    def rss_cli(self):
        for exe in (os.path.join(TOOLS_DIR, "rss-cli", "bin", "rss"), shutil.which("rss"),
                    os.path.expanduser("~/.cargo/bin/rss")):
            if exe and os.path.exists(exe):
                v = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
                if v.split()[-1:] == [RSS_CLI_VERSION]:
                    return exe
        if not self.install:
            self.why["rss-cli"] = f"missing: cargo install rss-cli --locked --version {RSS_CLI_VERSION}"
            return None
        log(f"installing rss-cli {RSS_CLI_VERSION} (cargo install; a few minutes)")
        r = subprocess.run(["cargo", "install", "rss-cli", "--locked", "--version", RSS_CLI_VERSION,
                            "--root", os.path.join(TOOLS_DIR, "rss-cli")], capture_output=True, text=True)
        exe = os.path.join(TOOLS_DIR, "rss-cli", "bin", "rss")
        if r.returncode != 0 or not os.path.exists(exe):
            self.why["rss-cli"] = "cargo install rss-cli failed: " + r.stderr.strip()[-300:]
            return None
        return exe

    def reader(self):
        venv_py = os.path.join(TOOLS_DIR, "reader-venv", "bin", "python")
        check = [venv_py, "-c", f"import reader, sys; sys.exit(reader.__version__ != '{READER_VERSION}')"]
        if os.path.exists(venv_py) and subprocess.run(check, capture_output=True).returncode == 0:
            return venv_py
        py = find_python312()
        if py is None:
            self.why["reader"] = ("reader needs Python >= 3.12 and none was found (PATH python3.12/3.13, "
                                  "pyenv versions, /usr/bin/python3.12); Debian 12 ships 3.11: "
                                  "`pyenv install 3.12` then rerun")
            return None
        if not self.install:
            self.why["reader"] = f"missing: {py} -m venv {TOOLS_DIR}/reader-venv && pip install reader=={READER_VERSION}"
            return None
        log(f"creating a venv with {py} and installing reader {READER_VERSION} from PyPI")
        subprocess.run([py, "-m", "venv", os.path.join(TOOLS_DIR, "reader-venv")], check=False)
        subprocess.run([venv_py, "-m", "pip", "install", "-q", f"reader=={READER_VERSION}"], check=False)
        if subprocess.run(check, capture_output=True).returncode != 0:
            self.why["reader"] = f"pip install reader=={READER_VERSION} failed in a venv of {py}"
            return None
        return venv_py


# ---------------------------------------------------------------- publish at scale


def grow_database(src_db, dst_db, target):
    """Copies src_db and makes its entries number `target`: truncates, or appends copies
    of the existing stories and entries (new ids, guids, keys; dates shifted back by 400
    days per copy, so the copies read as older history of the same partners)."""
    if os.path.exists(dst_db):
        os.remove(dst_db)
    src = sqlite3.connect(src_db)
    dst = sqlite3.connect(dst_db)
    src.backup(dst)
    src.close()
    c = dst.cursor()
    base_e = c.execute("SELECT max(id) FROM entries").fetchone()[0]
    base_s = c.execute("SELECT max(id) FROM stories").fetchone()[0]
    n_e = c.execute("SELECT count(*) FROM entries").fetchone()[0]
    scols = [r[1] for r in c.execute("PRAGMA table_info(stories)")]
    ecols = [r[1] for r in c.execute("PRAGMA table_info(entries)")]
    c.execute("PRAGMA foreign_keys = OFF")
    c.execute("PRAGMA journal_mode = OFF")
    c.execute("PRAGMA synchronous = OFF")
    if target < n_e:
        c.execute("DELETE FROM entries WHERE id NOT IN (SELECT id FROM entries ORDER BY id LIMIT ?)", (target,))
    k = 1
    while c.execute("SELECT count(*) FROM entries").fetchone()[0] < target:
        have = c.execute("SELECT count(*) FROM entries").fetchone()[0]
        shift = 400 * 86400 * k
        sexpr = {"id": f"id + {k * base_s}", "uid": f"uid || '-c{k}'", "story_key": f"story_key || '#c{k}'",
                 "primary_entry": f"primary_entry + {k * base_e}", "published": f"published - {shift}",
                 "updated": f"updated - {shift}"}
        eexpr = {"id": f"id + {k * base_e}", "guid": f"guid || '#c{k}'", "story_id": f"story_id + {k * base_s}",
                 "published": f"published - {shift}", "updated": f"updated - {shift}",
                 "first_seen": f"first_seen - {shift}"}
        c.execute(f"INSERT INTO stories ({', '.join(scols)}) SELECT {', '.join(sexpr.get(x, x) for x in scols)} "
                  f"FROM stories WHERE id <= {base_s}")
        c.execute(f"INSERT INTO entries ({', '.join(ecols)}) SELECT {', '.join(eexpr.get(x, x) for x in ecols)} "
                  f"FROM entries WHERE id <= {base_e} ORDER BY id LIMIT ?", (target - have,))
        k += 1
    # Archive pages are recomputed by the next publish.
    if "archives" in {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}:
        c.execute("DELETE FROM archives")
    # Stories left without entries go; a story whose primary entry is gone takes its first remaining one.
    c.execute("DELETE FROM stories WHERE id NOT IN (SELECT story_id FROM entries)")
    c.execute("UPDATE stories SET primary_entry = (SELECT min(id) FROM entries WHERE story_id = stories.id) "
              "WHERE primary_entry NOT IN (SELECT id FROM entries)")
    dst.commit()
    c.execute("ANALYZE")
    c.execute("VACUUM")
    counts = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("entries", "stories")}
    dst.close()
    return counts


# ---------------------------------------------------------------- serving


def wrk(url, seconds, headers=()):
    cmd = ["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    res = {"raw": out}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            res["rps"] = float(parts[1])
        elif len(parts) == 2 and parts[0] == "99%":
            res["p99_ms"] = to_ms(parts[1])
        elif len(parts) == 2 and parts[0] == "50%":
            res["p50_ms"] = to_ms(parts[1])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            res["bad"] = int(parts[-1])
    return res


def to_ms(text):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if text.endswith(unit):
            return float(text[:-len(unit)]) * f
    return float(text)


def wait_http(url, proc, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ssefeed run exited {proc.returncode}")
        try:
            http_get(url, timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


# ---------------------------------------------------------------- the table


class Table:
    def __init__(self):
        self.rows = []

    def add(self, fig, what, tool, stat, unit, target=None, fmt="{:.3f}", note=""):
        """stat: summary dict or a plain value; target: (op, value) with op '<=' or '>=' or '=='."""
        if isinstance(stat, dict):
            med, lo, hi = stat["median"], stat["min"], stat["max"]
        else:
            med = lo = hi = stat
        met = None
        if target is not None and med is not None:
            op, val = target
            met = med <= val if op == "<=" else med >= val if op == ">=" else med == val
        self.rows.append({"figure": fig, "what": what, "tool": tool, "median": med, "min": lo, "max": hi,
                          "unit": unit, "target": f"{target[0]} {fmt.format(target[1])} {unit}".strip()
                          if target else "", "met": met, "note": note, "fmt": fmt})

    def skip(self, fig, what, tool, why):
        self.rows.append({"figure": fig, "what": what, "tool": tool, "median": None, "min": None, "max": None,
                          "unit": "", "target": "", "met": None, "note": "skipped: " + why, "fmt": "{}"})

    def render(self):
        head = ["fig", "measure", "tool", "median", "min–max", "target", "ok", "note"]
        lines = []
        for r in self.rows:
            f = r["fmt"]
            if r["median"] is None:
                med = mm = "–"
            else:
                med = f.format(r["median"]) + (f" {r['unit']}" if r["unit"] else "")
                mm = "" if r["min"] == r["max"] else f"{f.format(r['min'])}–{f.format(r['max'])}"
            ok = "" if r["met"] is None else ("yes" if r["met"] else "NO")
            lines.append([r["figure"], r["what"], r["tool"], med, mm, r["target"], ok, r["note"]])
        widths = [max(len(str(x[i])) for x in lines + [head]) for i in range(len(head))]
        out = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
               "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        for line in lines:
            out.append("| " + " | ".join(str(x).ljust(w) for x, w in zip(line, widths)) + " |")
        return "\n".join(out)


def field(records, key):
    return summary([r[key] for r in records])


# ---------------------------------------------------------------- main


def build_ssefeed(args):
    meta = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=REPO,
                                     capture_output=True, text=True, check=True).stdout)
    binary = os.path.join(meta["target_directory"], "release", "ssefeed")
    if not args.no_build:
        log("cargo build --release (first time: several minutes on 2 cores)")
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "ssefeed"], cwd=REPO, check=True)
    if not os.path.exists(binary):
        sys.exit(f"no release binary at {binary}: run `cargo build --release`")
    return binary


def machine_info():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                         text=True).stdout.strip()
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "host": platform.node(), "os": platform.platform(), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": round(mem, 1), "ssefeed_commit": rev}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--n", type=int, default=500, help="partner feeds (default 500)")
    ap.add_argument("--m", type=int, default=50, help="items per feed (default 50)")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (default 3)")
    ap.add_argument("--only", default="", help="comma-separated figures (default: all)")
    ap.add_argument("--skip", default="", help="comma-separated figures to leave out")
    ap.add_argument("--quick", action="store_true", help=f"only {','.join(QUICK_FIGURES)}, 1 run")
    ap.add_argument("--scale", default="100,500,2000", help="N values of the scaling figure")
    ap.add_argument("--publish-sizes", default="10000,100000,1000000", help="stored entries for figure d")
    ap.add_argument("--serve-seconds", type=int, default=5, help="wrk duration per serving measurement")
    ap.add_argument("--html", type=int, default=None, help="HTML listings for the scrape figure (default N/20)")
    ap.add_argument("--seed", type=int, default=20260101)
    ap.add_argument("--out", default=os.path.join(HERE, "out"), help="where results.json and table.md go")
    ap.add_argument("--workdir", default=None, help="scratch directory (default: a temp dir, removed)")
    ap.add_argument("--bin", default=None, help="an ssefeed binary to use instead of building one")
    ap.add_argument("--no-build", action="store_true", help="do not run cargo build --release")
    ap.add_argument("--no-install", action="store_true", help="do not install missing tools; say what is missing")
    args = ap.parse_args()
    figures = args.only.split(",") if args.only else (QUICK_FIGURES if args.quick else ALL_FIGURES)
    figures = [f for f in figures if f and f not in args.skip.split(",")]
    unknown = set(figures) - set(ALL_FIGURES)
    if unknown:
        ap.error(f"unknown figure(s) {', '.join(sorted(unknown))}; known: {', '.join(ALL_FIGURES)}")
    runs = 1 if args.quick else max(1, args.runs)
    html = args.html if args.html is not None else max(1, args.n // 20)

    binary = args.bin or build_ssefeed(args)
    tools = Tools(install=not args.no_install)
    tmp = args.workdir or tempfile.mkdtemp(prefix="ssefeed-bench-")
    os.makedirs(tmp, exist_ok=True)
    # A private copy: a shared target directory may be rebuilt by someone else mid-run.
    shutil.copy2(binary, os.path.join(tmp, "ssefeed"))
    tool = Ssefeed(os.path.join(tmp, "ssefeed"))
    table, raw = Table(), {"machine": machine_info(), "n": args.n, "m": args.m, "runs": runs, "figures": figures,
                           "binary": binary}
    servers = []
    log(f"scratch dir {tmp}")
    try:
        wl = Workload(os.path.join(tmp, f"workload-n{args.n}-m{args.m}"), args.n, args.m, html, args.seed)
        server = PartnerServer(wl.root, tmp)
        servers.append(server)
        unique = wl.manifest["unique_canonical_links"]
        N = args.n
        main_res = None
        if {"cold", "warm", "churn", "publish", "serve"} & set(figures):
            main_res = ssefeed_cycles(tool, wl, server, tmp, runs, churn="churn" in figures)
            main_res["expected_stories"] = unique
            raw["ssefeed"] = {k: v for k, v in main_res.items() if k not in ("last_cfg", "expected_stories")}
        if main_res and "cold" in figures:
            cold = main_res["cold"]
            stories_ok = all(s == unique for s in main_res["stories"])
            table.add("a", "cold cycle: wall", "ssefeed", field(cold, "wall"), "s", ("<=", 0.5) if N == 500 else None,
                      note=f"N={N} M={args.m}, {cold[0]['requests']} requests")
            table.add("a", "cold cycle: CPU (user+sys)", "ssefeed", field(cold, "cpu"), "s")
            table.add("a", "cold cycle: peak RSS", "ssefeed", field(cold, "rss_mb"), "MB", ("<=", 80), fmt="{:.1f}")
            table.add("a", "stories stored (status totals)", "ssefeed", summary(main_res["stories"]), "",
                      ("==", unique), fmt="{:.0f}", note="" if stories_ok else "MISMATCH with the manifest")
            table.add("a", "files written by cold publish", "ssefeed", field(cold, "files_rewritten"), "", fmt="{:.0f}")
        if main_res and "warm" in figures:
            warm = main_res["warm"]
            table.add("b", "warm cycle: wall", "ssefeed", field(warm, "wall"), "s", ("<=", 0.25) if N == 500 else None)
            table.add("b", "warm cycle: CPU (user+sys)", "ssefeed", field(warm, "cpu"), "s")
            table.add("b", "warm cycle: peak RSS", "ssefeed", field(warm, "rss_mb"), "MB", fmt="{:.1f}")
            table.add("b", "warm cycle: requests (all 304?)", "ssefeed", field(warm, "requests"), "", ("==", N),
                      fmt="{:.0f}", note=f"statuses {warm[0]['status']}")
            table.add("b", "warm: DB rows written beyond attempts", "ssefeed", field(warm, "db_rows_written"), "",
                      ("==", 0), fmt="{:.0f}", note=json.dumps(warm[0]["db_diff"]) if warm[0]["db_diff"] else "")
            table.add("b", "warm: DB+WAL bytes grown", "ssefeed", field(warm, "db_bytes_delta"), "B", fmt="{:.0f}")
            table.add("b", "warm: files rewritten in public/", "ssefeed", field(warm, "files_rewritten"), "",
                      ("==", 0), fmt="{:.0f}")
        if main_res and "churn" in figures:
            ch = main_res["churn"]
            exp = main_res["churn_expected"]
            good = main_res["stories_after_churn"] == exp
            table.add("c", "churn cycle (10% changed): wall", "ssefeed", field(ch, "wall"), "s",
                      note=f"{ch[0]['status'].get('200', 0)} bodies, {ch[0]['status'].get('304', 0)} × 304")
            table.add("c", "churn cycle: CPU (user+sys)", "ssefeed", field(ch, "cpu"), "s")
            table.add("c", "churn: new stories (expected)", "ssefeed", summary(main_res["stories_after_churn"]), "",
                      ("==", exp[0]), fmt="{:.0f}", note="" if good else "MISMATCH")
            table.add("c", "churn: files rewritten", "ssefeed", field(ch, "files_rewritten"), "", fmt="{:.0f}")
        if "curl" in figures:
            if shutil.which("curl"):
                res = curl_floor(wl, server, tmp, runs)
                raw["curl"] = res
                table.add("g", "download only (network floor)", "curl --parallel-max 16", field(res, "wall"), "s",
                          note=f"{res[0]['requests']} requests")
                table.add("g", "peak RSS", "curl --parallel-max 16", field(res, "rss_mb"), "MB", fmt="{:.1f}")
            else:
                table.skip("g", "download only", "curl", "curl not found (apt-get install curl)")
        if "peers" in figures:
            run_peers(table, raw, tools, wl, server, runs)
        if main_res:
            add_ratios(table, main_res, raw)
        if "publish" in figures and main_res:
            run_publish(table, raw, tool, wl, server, main_res["last_cfg"], tmp, args, runs)
        if "serve" in figures and main_res:
            run_serve(table, raw, tool, tools, main_res["last_cfg"], args)
        if "parse" in figures:
            run_parse(table, raw, wl, args)
        if "scrape" in figures:
            run_scrape(table, raw, tool, wl, server, tmp, runs)
        if "scale" in figures:
            run_scale(table, raw, tool, tmp, args, runs, servers)
    finally:
        for s in servers:
            s.stop()
        if not args.workdir:
            shutil.rmtree(tmp, ignore_errors=True)

    head = raw["machine"]
    title = (f"ssefeed benchmark, {head['date']}, {head['cpu']} ({head['cores']} cores, {head['memory_gib']} GiB), "
             f"commit {head['ssefeed_commit']}; N={args.n} M={args.m}, median of {runs} run(s)")
    text = title + "\n\n" + table.render()
    if tools.why:
        text += "\n\nNot measured:\n" + "\n".join(f"- {k}: {v}" for k, v in tools.why.items())
    print(text)
    os.makedirs(args.out, exist_ok=True)
    raw["table"] = [{k: v for k, v in r.items() if k != "fmt"} for r in table.rows]
    raw["not_measured"] = tools.why
    with open(os.path.join(args.out, "results.json"), "w") as fh:
        json.dump(raw, fh, indent=1, default=str)
    with open(os.path.join(args.out, "table.md"), "w") as fh:
        fh.write(text + "\n")
    log(f"wrote {os.path.join(args.out, 'results.json')} and table.md")


def run_peers(table, raw, tools, wl, server, runs):
    urls = os.path.join(os.path.dirname(wl.root), "peer-urls.txt")
    with open(urls, "w") as fh:
        fh.write("".join(f"{server.base}{rel}\n" for rel in wl.feeds))
    peers = {}
    rss = tools.rss_cli()
    if rss:
        # rss-cli serialises requests to one host unless told otherwise; every partner is 127.0.0.1 here.
        env = dict(os.environ, RSS_HOST_CONCURRENCY="16")
        peers[f"rss-cli {RSS_CLI_VERSION}"] = lambda d: ([rss, "--cache-dir", os.path.join(d, "cache"), "-q", "fetch",
                                                          "--input", urls, "--concurrency", "16", "--format", "json"],
                                                         env)
    else:
        table.skip("h", "cold/warm cycle", f"rss-cli {RSS_CLI_VERSION}", tools.why.get("rss-cli", ""))
    py = tools.reader()
    if py:
        def reader_cmd(d):
            with open(os.path.join(d, "driver.py"), "w") as fh:
                fh.write(READER_DRIVER)
            return [py, os.path.join(d, "driver.py"), os.path.join(d, "reader.sqlite"), urls], None
        peers[f"reader {READER_VERSION} (Python)"] = reader_cmd
    else:
        table.skip("h", "cold/warm cycle", f"reader {READER_VERSION}", tools.why.get("reader", ""))
    nb = tools.apt("newsboat", "newsboat")
    if nb:
        def newsboat_cmd(d):
            with open(os.path.join(d, "config"), "w") as fh:
                fh.write("reload-threads 16\nshow-read-feeds yes\n")
            env = dict(os.environ, HOME=d, XDG_CONFIG_HOME=d, XDG_DATA_HOME=d)
            return [nb, "-u", urls, "-c", os.path.join(d, "cache.db"), "-C", os.path.join(d, "config"),
                    "-x", "reload"], env
        peers["newsboat " + newsboat_version(nb)] = newsboat_cmd
    else:
        table.skip("h", "cold/warm cycle", "newsboat", tools.why.get("newsboat", ""))
    raw["peers"] = {}
    for name, make in peers.items():
        try:
            res = peer_cycles(name.split()[0], make, server, runs)
        except RuntimeError as e:
            table.skip("h", "cold/warm cycle", name, str(e).splitlines()[0])
            continue
        raw["peers"][name] = res
        table.add("h", "cold cycle: wall", name, field(res["cold"], "wall"), "s")
        table.add("h", "cold cycle: CPU (user+sys)", name, field(res["cold"], "cpu"), "s")
        table.add("h", "cold cycle: peak RSS", name, field(res["cold"], "rss_mb"), "MB", fmt="{:.1f}")
        table.add("h", "warm cycle: wall", name, field(res["warm"], "wall"), "s",
                  note=f"{res['warm'][0]['requests']} requests ({res['warm'][0]['conditional']} conditional), "
                       f"statuses {res['warm'][0]['status']}")


def add_ratios(table, main_res, raw):
    """The targets that are relative to the peers and the network floor of the same run,
    which hold whatever phase the host's speed is in (the absolute ones do not)."""
    med = lambda records, key: statistics.median(r[key] for r in records)  # noqa: E731
    rss = next((v for k, v in raw.get("peers", {}).items() if k.startswith("rss-cli")), None)
    if rss and main_res["cold"]:
        table.add("ratio", "cold cycle: rss-cli wall / ssefeed wall", "ssefeed",
                  med(rss["cold"], "wall") / med(main_res["cold"], "wall"), "×", (">=", 2.0), fmt="{:.2f}",
                  note="ssefeed also dedupes, sanitises and publishes")
    if rss and main_res["warm"]:
        table.add("ratio", "warm cycle: rss-cli wall / ssefeed wall", "ssefeed",
                  med(rss["warm"], "wall") / med(main_res["warm"], "wall"), "×", (">=", 4.0), fmt="{:.2f}")
    if raw.get("curl") and main_res["warm"]:
        table.add("ratio", "warm cycle: ssefeed wall / curl floor", "ssefeed",
                  med(main_res["warm"], "wall") / med(raw["curl"], "wall"), "×", ("<=", 2.0), fmt="{:.2f}")


def newsboat_version(exe):
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.split()
    return out[1] if len(out) > 1 else ""


def run_publish(table, raw, tool, wl, server, src_cfg, tmp, args, runs):
    """d. `ssefeed publish` (every document re-rendered, archive pages included) on a
    database of each size, and the publish a `fetch` does after a small change (one
    partner with new items): the one that runs every cycle."""
    src_db = os.path.join(os.path.dirname(src_cfg), "data", "ssefeed.db")
    raw["publish"] = {}
    for size in [int(s) for s in args.publish_sizes.split(",") if s]:
        cfg_dir = os.path.join(tmp, f"publish-{size}")
        shutil.rmtree(cfg_dir, ignore_errors=True)
        shutil.copytree(os.path.dirname(src_cfg), cfg_dir, ignore=shutil.ignore_patterns("data", "public"))
        os.makedirs(os.path.join(cfg_dir, "data"))
        log(f"publish: synthesising a database of {size} entries")
        counts = grow_database(src_db, os.path.join(cfg_dir, "data", "ssefeed.db"), size)
        cfg = os.path.join(cfg_dir, "ssefeed.toml")
        first = tool.run(cfg, "publish")  # writes every document once
        full = [tool.run(cfg, "publish") for _ in range(runs)]
        docs = first.out.strip()
        incremental = []
        for r in range(runs):
            restore, _ = wl.churn(0, 100 + r, count=1)
            try:
                run = tool.run(cfg, "fetch")
            finally:
                restore()
            line = next((x for x in run.out.splitlines() if x.startswith("published")), "")
            ms = line.rsplit("(", 1)[-1].split(" ms")[0] if "ms)" in line else None
            incremental.append({"wall": run.wall, "cpu": run.cpu, "rss_mb": run.rss_mb, "line": line,
                                "publish_ms": float(ms) if ms else None})
        raw["publish"][size] = {"counts": counts, "first": first.wall, "first_line": docs, "full": [
            {"wall": r.wall, "cpu": r.cpu, "rss_mb": r.rss_mb, "line": r.out.strip()} for r in full],
            "incremental": incremental}
        # `publish` regenerates every output (CONTRACT.md), the immutable
        # archive pages included: O(history) by definition. The publish every
        # cycle pays is the one after a change; the target applies to that one.
        table.add("d", f"publish (all documents), {size:,} entries", "ssefeed", summary([r.wall for r in full]), "s",
                  note=f"{counts['stories']:,} stories; {docs.split(':', 1)[-1].strip()}")
        table.add("d", f"publish, {size:,} entries: peak RSS", "ssefeed", summary([r.rss_mb for r in full]), "MB",
                  fmt="{:.1f}")
        table.add("d", f"fetch after 1 partner changed, {size:,} entries", "ssefeed", field(incremental, "wall"), "s",
                  note=f"its publish step: {incremental[0]['line'].split(':', 1)[-1].strip()}")
        steps = [r["publish_ms"] / 1000 for r in incremental if r["publish_ms"] is not None]
        if steps:
            table.add("d", f"  its publish step, {size:,} entries", "ssefeed", summary(steps), "s",
                      ("<=", 0.05) if size == 10**6 else None, note="as `fetch` reports it")


def run_serve(table, raw, tool, tools, src_cfg, args):
    if not tools.apt("wrk", "wrk"):
        table.skip("e", "serving /atom.xml", "ssefeed run", tools.why.get("wrk", "wrk missing"))
        return
    cfg_dir = os.path.dirname(src_cfg)
    with open(src_cfg) as fh:
        listen = next(line.split('"')[1] for line in fh if line.startswith("listen"))
    proc = subprocess.Popen([tool.binary, "-c", src_cfg, "run"], env=tool.env, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(cfg_dir, "run.log"), "w"))
    try:
        url = f"http://{listen}/atom.xml"
        wait_http(f"http://{listen}/healthz", proc)
        status, headers, body = http_get(url)
        etag = headers.get("ETag") or headers.get("etag")
        runs = raw["runs"]
        plain = [wrk(url, args.serve_seconds) for _ in range(runs)]
        raw["serve"] = {"plain": plain, "etag": etag, "bytes": len(body)}
        table.add("e", "GET /atom.xml (200): requests/s", "ssefeed run", field(plain, "rps"), "req/s", fmt="{:.0f}",
                  note=f"{len(body):,} bytes, wrk -t2 -c64 -d{args.serve_seconds}s")
        table.add("e", "GET /atom.xml (200): p99 latency", "ssefeed run", field(plain, "p99_ms"), "ms", fmt="{:.2f}")
        if etag:
            cond = [wrk(url, args.serve_seconds, [f"If-None-Match: {etag}"]) for _ in range(runs)]
            raw["serve"]["if_none_match"] = cond
            status304 = urllib_status(url, {"If-None-Match": etag})
            table.add("e", "If-None-Match (304): requests/s", "ssefeed run", field(cond, "rps"), "req/s",
                      (">=", 20000), fmt="{:.0f}", note=f"answer {status304}")
            table.add("e", "If-None-Match (304): p99 latency", "ssefeed run", field(cond, "p99_ms"), "ms",
                      fmt="{:.2f}")
        else:
            table.skip("e", "If-None-Match (304)", "ssefeed run", "no ETag on /atom.xml")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def urllib_status(url, headers):
    try:
        return http_get(url, headers)[0]
    except urllib.error.HTTPError as e:
        return e.code


def run_parse(table, raw, wl, args):
    manifest = os.path.join(HERE, "parse", "Cargo.toml")
    meta = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps",
                                      "--manifest-path", manifest], capture_output=True, text=True,
                                     check=True).stdout)
    exe = os.path.join(meta["target_directory"], "release", "ssefeed-parse-bench")
    if not args.no_build:
        log("building bench/parse (cargo build --release)")
        subprocess.run(["cargo", "build", "--release", "--manifest-path", manifest], check=True)
    out = json.loads(subprocess.run([exe, os.path.join(wl.root, "feeds")], capture_output=True, text=True,
                                    check=True).stdout)
    raw["parse"] = out
    rows = {(r["format"], r["parser"]): r for r in out["rows"]}
    for (fmt, parser), r in rows.items():
        stat = {"median": r["mb_per_s"], "min": r["mb_per_s_min"], "max": r["mb_per_s_max"]}
        target, note = None, ""
        # The share of the floor is the median of per-round ratios (the passes
        # are interleaved), so a drift of the host's speed does not skew it.
        share = r.get("share_of_floor")
        if fmt == "xml" and parser != "quick-xml scan" and share:
            note = f"{100 * share:.1f}% of the quick-xml floor (paired rounds)"
        if (fmt, parser) == ("xml", "ssefeed parse") and share:
            # >= half the floor, in this row's MB/s: met exactly when share >= 0.5.
            target = (">=", r["mb_per_s"] / share / 2)
        if fmt == "json" and parser != "serde_json::Value" and share:
            note = f"{100 * share:.1f}% of serde_json::Value (paired rounds)"
        size = out["xml_bytes"] if fmt == "xml" else out["json_bytes"]
        table.add("f", f"parse {fmt.upper()} ({size / 1e6:.1f} MB)", parser, stat, "MB/s", target, fmt="{:.1f}",
                  note=note)


def run_scrape(table, raw, tool, wl, server, tmp, runs):
    res = {"cold": [], "warm": []}
    for r in range(runs):
        cfg_dir = os.path.join(tmp, f"scrape-run{r}")
        shutil.rmtree(cfg_dir, ignore_errors=True)
        cfg, _ = write_ssefeed_config(cfg_dir, server.base, [], wl.listings)
        res["cold"].append(cycle(tool, cfg, server, cfg_dir))
        res["stories"] = tool.status(cfg)["totals"]["stories"]
        res["warm"].append(cycle(tool, cfg, server, cfg_dir))
    raw["scrape"] = res
    k, items = len(wl.listings), wl.manifest["html_items"]
    table.add("i", f"{k} HTML listings + {items} article pages: cold", "ssefeed", field(res["cold"], "wall"), "s",
              note=f"{res['cold'][0]['requests']} requests; {res['stories']} stories (expected {items})")
    table.add("i", "HTML listings: cold peak RSS", "ssefeed", field(res["cold"], "rss_mb"), "MB", fmt="{:.1f}")
    table.add("i", "HTML listings: warm", "ssefeed", field(res["warm"], "wall"), "s",
              note=f"{res['warm'][0]['requests']} requests, statuses {res['warm'][0]['status']}")


def run_scale(table, raw, tool, tmp, args, runs, servers):
    """Cold and warm cycles for each N, the N values interleaved round by round: this host's
    speed drifts by up to 1.6x over minutes, and running N = 2000's rounds after N = 100's
    would measure the drift as much as the scaling. Each round's per-item cost is compared
    with the smallest N's in the same round (the median of those ratios is the linearity
    figure: 1.00 is linear)."""
    raw["scale"] = {}
    sizes = sorted({int(x) for x in args.scale.split(",") if x})
    setups = {}
    for n in sizes:
        wl = Workload(os.path.join(tmp, f"workload-n{n}-m{args.m}"), n, args.m, 0, args.seed)
        server = PartnerServer(wl.root, tmp)
        servers.append(server)
        setups[n] = (wl, server)
    results = {n: {"cold": [], "warm": [], "stories": []} for n in sizes}
    # Ascending, then descending: no size always runs first in its round. Nothing is deleted
    # between runs: after thousands of files are deleted, ext4 spends a while skipping their
    # inodes when new files are created, which would slow whichever run came next.
    for r in range(runs):
        for n in sizes if r % 2 == 0 else sizes[::-1]:
            wl, server = setups[n]
            one = ssefeed_cycles(tool, wl, server, tmp, 1, churn=False, tag=f"scale-round{r}")
            for key in results[n]:
                results[n][key].extend(one[key])
    smallest = sizes[0]
    for n in sizes:
        res = results[n]
        raw["scale"][n] = res
        items = n * args.m
        expected = setups[n][0].manifest["unique_canonical_links"]
        stories = f"; {res['stories'][0]} stories" + ("" if expected == res["stories"][0] else
                                                    f" (MISMATCH: expected {expected})")

        def per_item_ratio(kind, measure):
            """Median over rounds of (cost per item at n) / (cost per item at the smallest N)."""
            ratios = [(a[measure] / items) / (b[measure] / (smallest * args.m))
                      for a, b in zip(res[kind], results[smallest][kind]) if b[measure] > 0]
            return statistics.median(ratios) if ratios else float("nan")

        cold_us = statistics.median(c["wall"] for c in res["cold"]) / items * 1e6
        linear = "" if n == smallest else (
            f"; per item ×{per_item_ratio('cold', 'wall'):.2f} wall, ×{per_item_ratio('cold', 'cpu'):.2f} CPU "
            f"of N={smallest}'s (paired rounds)")
        table.add("scale", f"N={n} ({items:,} items): cold", "ssefeed", field(res["cold"], "wall"), "s",
                  note=f"{cold_us:.0f} µs/item, peak RSS {statistics.median(c['rss_mb'] for c in res['cold']):.0f} MB, "
                       f"CPU {statistics.median(c['cpu'] for c in res['cold']):.2f} s{stories}{linear}")
        warm_linear = "" if n == smallest else f"; per item ×{per_item_ratio('warm', 'wall'):.2f} of N={smallest}'s"
        table.add("scale", f"N={n}: warm", "ssefeed", field(res["warm"], "wall"), "s",
                  note=f"CPU {statistics.median(c['cpu'] for c in res['warm']):.2f} s{warm_linear}")


if __name__ == "__main__":
    main()
