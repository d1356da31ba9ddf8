"""Load on the registry service behind a real JupyterHub: many writers streaming runs, a few searchers.

    python benchmarks/hub_load.py                      # 16 writers + 4 searchers for 30 s
    python benchmarks/hub_load.py --fault              # the same, SIGKILL the service at 10 s, restart 1 s later
    python benchmarks/hub_load.py --writers 4 --searchers 2 --duration 10
    python benchmarks/hub_load.py --panel-searchers 0   # without spawning single-user servers
    python benchmarks/hub_load.py --registry postgres  # first one service on SQLite, then TWO service replicas on
                                                       # one PostgreSQL (throw-away server), clients spread over
                                                       # both, printed side by side with ratios;
                                                       # or --registry postgresql://... (an empty database)

Starts a throwaway hub on 127.0.0.1 (fmc_jupyter.service.localhub: jupyterhub + configurable-http-proxy +
the registry service), four hub users with API tokens, then client *processes*, each with its own
RemoteRegistry going through the proxy. A writer loops: start_run -> log_epoch x epochs (one call per
epoch, as training streams them) -> finish_run. A searcher loops over a few queries. A panel searcher does
what the JupyterLab side panel does on a hub: it asks its user's real single-user server (spawned by the hub,
FMC_REGISTRY_URL pointing at the fmc-registry-ext service) for one page of results,
GET /user/<name>/fmc/api/models?q=...&limit=50, through the proxy with the user's token. Afterwards the
registry file is checked (PRAGMA integrity_check) and counted independently with sqlite3: every
acknowledged run and epoch must be there, exactly once.

Prints: writes/s (acknowledged write calls), search p50/p95 latency, errors, rows expected vs found and,
with --fault, the outage the clients saw.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fmc_jupyter.service.localhub import LocalHub  # noqa: E402

USERS = ["alice", "bob", "carol", "dave"]
QUERIES = ["", "params<5M", "domain=natural and top1>=70%", "family=MobileNet", "efficient", "top1>=0.75"]


class _Count(logging.Handler):
    def __init__(self):
        super().__init__()
        self.unavailable = 0
        self.recovered = 0

    def emit(self, record):
        text = record.getMessage()
        self.unavailable += "registry unavailable, retrying" in text
        self.recovered += "registry available again" in text


def _client(kind: str, index: int, url: str, token: str, model_id: int, epochs: int, go, stop_at, out) -> None:
    from fmc_jupyter.registry.remote import RemoteRegistry

    counter = _Count()
    logging.getLogger("fmc_jupyter.registry.remote").addHandler(counter)
    result = {"kind": kind, "runs": 0, "epochs": 0, "finishes": 0, "searches": 0, "latencies": [], "errors": []}
    try:
        reg = RemoteRegistry(url, token, retry_for=90)
        go.wait()
        tag = f"bench-{index}"
        while time.time() < stop_at.value:
            try:
                if kind == "writer":
                    run_id = reg.start_run(model_id, device=tag, epochs=epochs, optimizer="adam")
                    result["runs"] += 1
                    for epoch in range(epochs):
                        reg.log_epoch(run_id, epoch, loss=1.0 / (epoch + 1), accuracy=0.5 + epoch / 100,
                                      val_accuracy=0.4 + epoch / 100, seconds=0.01)
                        result["epochs"] += 1
                    reg.finish_run(run_id)
                    result["finishes"] += 1
                else:
                    query = QUERIES[(result["searches"] + index) % len(QUERIES)]
                    t0 = time.perf_counter()
                    reg.search(query, limit=20)
                    result["latencies"].append(time.perf_counter() - t0)
                    result["searches"] += 1
            except Exception as exc:  # noqa: BLE001 - counted and printed
                result["errors"].append(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001
        result["errors"].append(f"{type(exc).__name__}: {exc}")
    result["unavailable"], result["recovered"] = counter.unavailable, counter.recovered
    out.put(result)


def _panel_client(index: int, base: str, token: str, go, stop_at, out) -> None:
    """One page of search results through a user's panel API, in a loop."""
    import requests

    result = {"kind": "panel", "latencies": [], "errors": [], "unavailable": 0, "recovered": 0}
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"
    go.wait()
    n = 0
    while time.time() < stop_at.value:
        query = QUERIES[(n + index) % len(QUERIES)]
        n += 1
        t0 = time.perf_counter()
        try:
            r = session.get(base + "fmc/api/models", params={"q": query, "limit": 50, "order": "-top1"}, timeout=300)
            if r.status_code != 200 or "models" not in r.json():
                result["errors"].append(f"panel HTTP {r.status_code}: {r.text[:200]}")
                continue
        except Exception as exc:  # noqa: BLE001 - counted and printed
            result["errors"].append(f"panel {type(exc).__name__}: {exc}")
            continue
        result["latencies"].append(time.perf_counter() - t0)
    out.put(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--searchers", type=int, default=4)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--epochs", type=int, default=5, help="epoch updates per run")
    parser.add_argument("--panel-searchers", type=int, default=2,
                        help="processes searching through users' panel APIs (spawns one server per user used)")
    parser.add_argument("--threads", type=int, default=4, help="registry threads in the service")
    parser.add_argument("--fault", action="store_true", help="SIGKILL the service mid-load and restart it")
    parser.add_argument("--kill-at", type=float, default=10.0)
    parser.add_argument("--down-for", type=float, default=1.0)
    parser.add_argument("--registry", default=None,
                        help="postgresql://... (an EMPTY database) or 'postgres' (a throw-away local server): run "
                             "both service replicas on it, with one shared artifact folder, clients spread over both")
    opts = parser.parse_args()
    server, pg_url = None, opts.registry
    if pg_url == "postgres":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from _postgres import PostgresServer

        server = PostgresServer().start()
        pg_url = server.url(server.create_database("fmc_hub_load"))
    try:
        if pg_url is None:
            _run(opts, None)
        else:
            _side_by_side(_run(opts, None), _run(opts, pg_url))
    finally:
        if server is not None:
            server.stop()


def _count_postgres(url: str) -> tuple[str, int, int, int]:
    import psycopg

    with psycopg.connect(url) as conn:
        def one(sql: str) -> int:
            return conn.execute(sql).fetchone()[0]

        return ("n/a (PostgreSQL)", one("SELECT count(*) FROM runs WHERE device LIKE 'bench-%%'"),
                one("SELECT count(*) FROM epochs e JOIN runs r ON r.id = e.run_id WHERE r.device LIKE 'bench-%%'"),
                one("SELECT count(*) FROM runs WHERE device LIKE 'bench-%%' AND status = 'finished'"))


def _run(opts: argparse.Namespace, pg_url: str | None) -> dict[str, float]:
    """One load run (one service on SQLite, or two replicas on ``pg_url``); prints its report and returns
    ``{writes/s, search p50, search p95, errors, ok}`` for the side-by-side summary."""
    with tempfile.TemporaryDirectory(prefix="fmc-hub-load-") as tmp, \
            LocalHub(tmp, threads=opts.threads, registry=pg_url,
                     artifacts=str(Path(tmp) / "shared-artifacts") if pg_url else None,
                     panel_service="fmc-registry-ext") as hub:
        tokens = {name: hub.create_user(name) for name in USERS}
        panel_users = USERS[:max(0, min(opts.panel_searchers, len(USERS)))]
        panels = {name: hub.start_server(name) for name in panel_users}  # real single-user servers
        url = hub.service_url("fmc-registry-ext")
        # with PostgreSQL: every other client goes to the other replica (the hub-managed one)
        urls = [url, hub.service_url("fmc-registry")] if pg_url else [url]
        from fmc_jupyter.registry.remote import RemoteRegistry

        with RemoteRegistry(url, tokens["alice"]) as reg:
            model_id = int(reg.search("name=MobileNet_0.25_224", limit=1)["id"].iloc[0])
        ctx = mp.get_context("fork")
        go, out, stop_at = ctx.Event(), ctx.Queue(), ctx.Value("d", 0.0)
        procs = []
        for i in range(opts.writers + opts.searchers):
            kind = "writer" if i < opts.writers else "searcher"
            p = ctx.Process(target=_client, args=(kind, i, urls[i % len(urls)], tokens[USERS[i % len(USERS)]], model_id,
                                                  opts.epochs, go, stop_at, out))
            p.start()
            procs.append(p)
        for i in range(opts.panel_searchers):
            name = panel_users[i % len(panel_users)]
            p = ctx.Process(target=_panel_client, args=(i, panels[name], tokens[name], go, stop_at, out))
            p.start()
            procs.append(p)
        time.sleep(2.0)  # let every client import and connect
        start = time.time()
        stop_at.value = start + opts.duration
        go.set()
        outage = None
        if opts.fault:
            time.sleep(max(0.0, opts.kill_at))
            t_kill = time.time()
            hub.kill_external()
            time.sleep(opts.down_for)
            hub.start_external()
            outage = time.time() - t_kill
        results = [out.get(timeout=opts.duration + 300) for _ in procs]
        elapsed = time.time() - start
        for p in procs:
            p.join(30)
        db = hub.workdir / "registry-ext" / "registry.db"
        hub.kill_external(15)  # SIGTERM: stop writing before we count
        replayed = (hub.workdir / "service-ext.log").read_text(errors="replace").count("replayed the recorded answer")
        if pg_url:
            integrity, runs_found, epochs_found, finished_found = _count_postgres(pg_url)
        else:
            with sqlite3.connect(db) as conn:
                integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
                runs_found = conn.execute("SELECT count(*) FROM runs WHERE device LIKE 'bench-%'").fetchone()[0]
                epochs_found = conn.execute("SELECT count(*) FROM epochs e JOIN runs r ON r.id = e.run_id "
                                            "WHERE r.device LIKE 'bench-%'").fetchone()[0]
                finished_found = conn.execute("SELECT count(*) FROM runs WHERE device LIKE 'bench-%' AND "
                                              "status = 'finished'").fetchone()[0]

    writers = [r for r in results if r["kind"] == "writer"]
    runs = sum(r["runs"] for r in writers)
    epochs = sum(r["epochs"] for r in writers)
    finishes = sum(r["finishes"] for r in writers)
    writes = runs + epochs + finishes
    latencies = sorted(x for r in results if r["kind"] == "searcher" for x in r["latencies"])
    panel_latencies = sorted(x for r in results if r["kind"] == "panel" for x in r["latencies"])
    errors = [e for r in results for e in r["errors"]]

    def percentile(values, q):
        return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")

    pct = lambda q: percentile(latencies, q)  # noqa: E731
    print(f"hub_load: {opts.writers} writer + {opts.searchers} searcher + {opts.panel_searchers} panel processes, {elapsed:.1f} s, "
          f"{opts.epochs} epoch updates per run, service threads {opts.threads}{', FAULT' if opts.fault else ''}; "
          + ("TWO replicas on PostgreSQL" if pg_url else "one service on SQLite"))
    print(f"  writes acknowledged     {writes} ({runs} runs started, {epochs} epochs, {finishes} finished)")
    print(f"  writes/s                {writes / elapsed:.1f}")
    print(f"  searches                {len(latencies)}  ({len(latencies) / elapsed:.1f}/s)")
    print(f"  search latency          p50 {pct(0.50):.1f} ms   p95 {pct(0.95):.1f} ms   max {pct(1.0):.1f} ms")
    if opts.panel_searchers:
        pp = lambda q: percentile(panel_latencies, q)  # noqa: E731
        print(f"  panel searches          {len(panel_latencies)}  ({len(panel_latencies) / elapsed:.1f}/s, "
              f"{opts.panel_searchers} processes on {len(panel_users)} users' servers, 50 rows a page)")
        print(f"  panel search latency    p50 {pp(0.50):.1f} ms   p95 {pp(0.95):.1f} ms   max {pp(1.0):.1f} ms"
              "   (GET /user/<name>/fmc/api/models through the proxy)")
    print(f"  errors                  {len(errors)}")
    for e in sorted(set(errors))[:10]:
        print(f"    {e}")
    print(f"  runs      expected {runs:6d}  found {runs_found:6d}")
    print(f"  epochs    expected {epochs:6d}  found {epochs_found:6d}")
    print(f"  finished  expected {finishes:6d}  found {finished_found:6d}  (runs cut off at the end stay running)")
    print(f"  integrity_check         {integrity}")
    if opts.fault:
        told = sum(r["unavailable"] for r in results)
        back = sum(r["recovered"] for r in results)
        print(f"  fault: service SIGKILLed at {opts.kill_at:.0f} s, restarted after {outage:.1f} s; "
              f"{told}/{len(results)} clients logged 'registry unavailable, retrying', {back} 'available again'")
        print(f"  changes committed before the kill whose answer was lost, answered again on retry: {replayed}")
    lost = runs_found < runs or epochs_found < epochs or finished_found < finishes
    doubled = runs_found > runs or epochs_found > epochs
    ok = not (lost or doubled or errors) and integrity in ("ok", "n/a (PostgreSQL)")
    print("  verdict                 " + ("OK: nothing lost, nothing doubled, zero errors" if ok else
                                         f"PROBLEM: lost={lost} doubled={doubled} errors={len(errors)}"))
    return {"writes/s": writes / elapsed, "search p50 ms": pct(0.50), "search p95 ms": pct(0.95),
            "panel p50 ms": percentile(panel_latencies, 0.50), "panel p95 ms": percentile(panel_latencies, 0.95),
            "errors": float(len(errors)), "nothing lost or doubled": float(ok)}


def _side_by_side(sqlite: dict[str, float], postgres: dict[str, float]) -> None:
    print("\nside by side: one service on SQLite | two replicas on PostgreSQL | ratio pg/sqlite")
    for key in sqlite:
        a, b = sqlite[key], postgres[key]
        ratio = f"{b / a:8.2f}" if a and a == a and b == b else "       -"
        print(f"  {key:24s} {a:12.1f} {b:12.1f} {ratio}")


if __name__ == "__main__":
    main()
