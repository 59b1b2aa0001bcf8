"""CPU and memory of one `UsageClient.fetch`, in-process, against tests/fakeapi.py on loopback.

    .venv/bin/python benchmarks/fetch_cpu.py [--variant-tree LABEL=DIR ...] [--hot 200] [--processes 3]

For each code tree (this checkout as "this", plus every `--variant-tree LABEL=DIR` holding a
`tray_monitor` package, e.g. `git archive main tray_monitor | tar -x -C DIR`), and for each case
(plain http / https with a trustme certificate; the server keeping the connection alive, or
answering `Connection: close` so that every poll opens a new one), `--processes` fresh child
interpreters each do one cold fetch (imports included) and then `--hot` fetches in a row.
Children of all trees run alternately, so a busy machine weighs on each tree alike.

Per fetch, measured in the child around `client.fetch(creds)`:
- thread CPU: time.thread_time_ns of the calling thread (the poller thread in the tray);
- process CPU: time.process_time_ns, all threads of the child (a helper thread's share too;
  the server runs in this parent process, so none of its CPU is counted);
- VmRSS (/proc/self/status) before and after the first fetch: memory that fetching adds for the
  life of the process, and VmRSS after it (an interpreter with tray_monitor.client imported: not
  the tray's RSS). The https cases verify with a one-certificate trustme bundle
  (REQUESTS_CA_BUNDLE): loading certifi's bundle, as the real endpoint needs, adds about 2 MiB and
  17 ms once per process in both (requests 2.32+ loads it when imported).
Printed: per tree and case, the cold first fetch and the median of the hot ones (median over the
processes, with their range). The same recorded body (small-2026-03, ~1 KB) every time.
Measurements, not tests: nothing here fails a build.
"""
from __future__ import annotations

import argparse
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CASES = ("http keep-alive", "http close", "https keep-alive", "https close")


def child(tree: str, url: str, ca: str, hot: int) -> None:
    """One fresh interpreter: one cold fetch, then `hot` more; prints one JSON line."""
    sys.path.insert(0, tree)
    from tray_monitor.client import UsageClient
    from tray_monitor.environment import Environment
    from tray_monitor.model import Credentials

    home = Path(tempfile.mkdtemp(prefix="fetch-cpu-"))
    environ = {"CLAUDE_TRAY_API_URL": url, "PATH": str(home / "no-bin"), "REQUESTS_CA_BUNDLE": ca}
    env = Environment(environ=environ, home=home, platform=sys.platform, config_dir=home, data_dir=home,
                      log_dir=home, runtime_dir=home)
    creds = Credentials("sk-ant-oat01-benchmark", "benchmark")
    client = UsageClient(env, background=True)

    def rss_kib() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def one() -> tuple[int, int]:
        thread0, process0 = time.thread_time_ns(), time.process_time_ns()
        client.fetch(creds)
        return time.thread_time_ns() - thread0, time.process_time_ns() - process0

    rss0 = rss_kib()
    cold = one()
    rss1 = rss_kib()
    hots = [one() for _ in range(hot)]
    print(json.dumps({"cold_thread": cold[0], "cold_process": cold[1], "rss_added_kib": rss1 - rss0,
                      "rss_after_kib": rss1, "hot_thread": statistics.median(h[0] for h in hots),
                      "hot_process": statistics.median(h[1] for h in hots),
                      "tree_client": str(Path(sys.modules["tray_monitor.client"].__file__).parent)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant-tree", action="append", default=[], metavar="LABEL=DIR")
    parser.add_argument("--hot", type=int, default=200)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated, of: " + ", ".join(CASES))
    parser.add_argument("--child", nargs=4, metavar=("TREE", "URL", "CA", "HOT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        tree, url, ca, hot = args.child
        child(tree, url, ca, int(hot))
        return

    sys.path.insert(0, str(REPO))
    import trustme

    from tests.fakeapi import FakeApi, Response, usage_fixture

    trees = {"this": str(REPO)}
    for spec in args.variant_tree:
        label, _, folder = spec.partition("=")
        if not (Path(folder) / "tray_monitor" / "__init__.py").is_file():
            raise SystemExit(f"--variant-tree {spec}: no tray_monitor package in {folder}")
        trees[label] = str(Path(folder).resolve())
    child_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for folder in trees.values():  # timing without compiling: every tree's bytecode written first
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(folder) / "tray_monitor")],
                       check=True, env=child_env)

    work = Path(tempfile.mkdtemp(prefix="fetch-cpu-"))
    authority = trustme.CA()
    ca = work / "ca.pem"
    authority.cert_pem.write_to_path(str(ca))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    body = usage_fixture("small-2026-03")
    kept = Response(200, body, {"Content-Type": "application/json"})
    closing = Response(200, body, {"Content-Type": "application/json", "Connection": "close"})
    servers = {"http": FakeApi(kept).start(), "https": FakeApi(kept, ssl_context=context).start()}
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    results: dict[tuple[str, str], list[dict]] = {}
    try:
        for case in cases:
            scheme, _, mode = case.partition(" ")
            api = servers[scheme]
            api.default = closing if mode == "close" else kept
            for _ in range(args.processes):
                for label, folder in trees.items():
                    argv = [sys.executable, __file__, "--child", folder, api.url, str(ca), str(args.hot)]
                    done = subprocess.run(argv, capture_output=True, text=True, env=child_env, timeout=300)
                    if done.returncode != 0:
                        raise SystemExit(f"{label} {case}: child failed\n{done.stderr}")
                    results.setdefault((label, case), []).append(json.loads(done.stdout))
    finally:
        for api in servers.values():
            api.stop()

    def ms(values: list[float]) -> str:
        values = sorted(values)
        return f"{statistics.median(values) / 1e6:6.3f} ({values[0] / 1e6:.3f}-{values[-1] / 1e6:.3f})"

    print(f"UsageClient.fetch on loopback; {args.processes} processes per tree and case, alternating; "
          f"{args.hot} hot fetches each; ms: median over processes (min-max)")
    print(f"{'case':18} {'tree':10} {'cold thread':>22} {'cold process':>22} {'hot thread':>22} "
          f"{'hot process':>22} {'RSS added by 1st fetch':>24} {'RSS after':>10}")
    for case in cases:
        for label in trees:
            runs = results[(label, case)]
            rss = sorted(r["rss_added_kib"] / 1024 for r in runs)
            print(f"{case:18} {label:10} {ms([r['cold_thread'] for r in runs]):>22} "
                  f"{ms([r['cold_process'] for r in runs]):>22} {ms([r['hot_thread'] for r in runs]):>22} "
                  f"{ms([r['hot_process'] for r in runs]):>22} "
                  f"{statistics.median(rss):6.2f} MiB ({rss[0]:.2f}-{rss[-1]:.2f}) "
                  f"{statistics.median(r['rss_after_kib'] for r in runs) / 1024:6.2f} MiB")


if __name__ == "__main__":
    main()
