"""Helpers for bench/run.sh: floor parity check and the bench/results.md report.

    python bench/report.py parity OURS_BASE FLOOR_BASE OUT_FILE URL_PATH...
    python bench/report.py main OUT_DIR RESULTS_MD       (OUT_DIR: bench/out/main)
    python bench/report.py compare OUT_DIR RESULTS_MD    (OUT_DIR: bench/out/compare)

Standard library only. run.sh records one tab-separated line per wrk run in OUT_DIR/runs.tsv
(kind, size or config, scenario, app, probe status, raw file) and facts about the run in
OUT_DIR/meta.txt (key=value); this script turns them into markdown. The worker-class
comparison is a marked section of RESULTS_MD that a main run keeps and a compare run replaces.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

COMPARE_BEGIN = "<!-- compare-workers:begin -->"
COMPARE_END = "<!-- compare-workers:end -->"
# Hand-written, kept like the targets: why the default worker class is what it is.
WORKER_MODEL_BEGIN = "<!-- worker-model:begin -->"
WORKER_MODEL_END = "<!-- worker-model:end -->"
TARGETS_BEGIN = "<!-- targets:begin -->"
TARGETS_END = "<!-- targets:end -->"

# Scenario names, in report order, with a one-line description. Read scenarios also run on
# the floor app; the others exist only in the real app.
SCENARIOS = {
    "item_uncached": "GET /api/items/<random id>, unique `?_=` per request (cache miss)",
    "item_uncached_auth": "same, with `Authorization: Bearer <token>`",
    "item_hot": "GET /api/items/42, fixed URL (served from the Redis response cache)",
    "item_hot_auth": "same, with `Authorization: Bearer <token>`",
    "list_p1": "GET /api/items?page=1&per_page=20, busted",
    "list_p1_hot": "GET /api/items?page=1&per_page=20, fixed URL (cached)",
    "list_100": "GET /api/items?page=1&per_page=100, busted",
    "list_deep": "page <last/2>, per_page=20, by the URL of the `next` link of the page before "
    "(with its keyset `cursor` when the API gives one), busted",
    "list_deep_offset": "GET /api/items?page=<last/2>&per_page=20, busted (OFFSET half the table)",
    "search": "GET /api/items?q=guitar, busted: a common term (a third of the items), count "
    "capped at 10,000",
    "search_rare": "GET /api/items?q=9999, busted: a rare term (1 item at 10k, about 200 at 1M)",
    "category": "GET /api/items?category=books, busted",
    "users_me": "GET /api/users/me with a token (no cache; token checked against the DB)",
    "users_me_key": "GET /api/users/me with an API key (key lookup cached in Redis, owner "
    "read from the DB)",
    "create": "POST /api/items with a token (one INSERT + cache invalidation)",
    "patch": "PATCH /api/items/<id> with a token, ids owned by demo1 (row lock + UPDATE)",
    "login": "POST /auth/token demo1 / demo-password (scrypt by design: reported apart)",
    "item_hot_limits_on": "item_hot again, after the writes, just before the limits-off pair",
    "list_p1_hot_limits_on": "list_p1_hot again, likewise",
    "item_hot_limits_off": "item_hot with ours restarted with RATELIMIT_ENABLED=false",
    "list_p1_hot_limits_off": "list_p1_hot, likewise (the reference for what limits cost)",
    "item_hot_tracing_off": "item_hot with ours restarted as production runs it: tracing off",
    "item_uncached_tracing_off": "item_uncached, likewise",
    "item_hot_tracing_on": "item_hot with ours restarted with OTEL_EXPORTER_OTLP_ENDPOINT "
    "(spans to bench/otlp_sink.py, which drops them)",
    "item_uncached_tracing_on": "item_uncached, likewise (a request span and its SQL spans)",
}
READS = [
    "item_uncached",
    "item_uncached_auth",
    "item_hot",
    "item_hot_auth",
    "list_p1",
    "list_p1_hot",
    "list_100",
    "list_deep",
    "list_deep_offset",
    "search",
    "search_rare",
    "category",
]
WRITES = ["users_me", "users_me_key", "create", "patch"]
LIMITS = [
    "item_hot_limits_on",
    "list_p1_hot_limits_on",
    "item_hot_limits_off",
    "list_p1_hot_limits_off",
]
TRACING = [
    "item_hot_tracing_off",
    "item_hot_tracing_on",
    "item_uncached_tracing_off",
    "item_uncached_tracing_on",
]


# --------------------------------------------------------------------------- parity


def fetch(url: str) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read(), dict(response.headers.items())
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers.items())


def parity(ours: str, floor: str, out_file: str, paths: list[str]) -> int:
    """Compare body bytes and the X-Total-Count, Link and ETag headers of both apps."""
    lines = []
    mismatches = 0
    for path in paths:
        s1, b1, h1 = fetch(ours + path)
        s2, b2, h2 = fetch(floor + path)
        problems = []
        if s1 != s2:
            problems.append(f"status {s1} != {s2}")
        if b1 != b2:
            problems.append(f"body differs ({len(b1)} vs {len(b2)} bytes)")
        for header in (
            "X-Total-Count",
            "X-Total-Count-Lower-Bound",
            "Link",
            "ETag",
            "Content-Type",
        ):
            v1 = (h1.get(header) or "").replace(ours, "BASE")
            v2 = (h2.get(header) or "").replace(floor, "BASE")
            if v1 != v2:
                problems.append(f"{header} differs: {v1[:120]!r} vs {v2[:120]!r}")
        verdict = "identical" if not problems else "; ".join(problems)
        mismatches += bool(problems)
        lines.append(f"{path}\t{s1}\t{len(b1)}\t{verdict}")
    Path(out_file).write_text("\n".join(lines) + "\n")
    print(f"parity: {len(paths) - mismatches}/{len(paths)} URLs identical")
    for line in lines:
        print("  " + line)
    return 0


# --------------------------------------------------------------------------- reading results


def read_kv(path: Path) -> dict[str, str]:
    data: dict[str, str] = {}
    if not path.exists():
        return data
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            data[key.strip()] = value.strip()
    return data


def read_runs(out_dir: Path, kind: str) -> list[dict[str, str]]:
    runs = []
    tsv = out_dir / "runs.tsv"
    if not tsv.exists():
        return runs
    for line in tsv.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) != 6 or parts[0] != kind:
            continue
        _, group, scenario, app, probe, raw = parts
        result = read_kv(Path(raw))
        runs.append({"group": group, "scenario": scenario, "app": app, "probe": probe, **result})
    return runs


def ms(us: str | None) -> str:
    if not us:
        return "—"
    value = float(us) / 1000
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def rps(value: str | None) -> str:
    if not value:
        return "—"
    number = float(value)
    return f"{number:,.0f}" if number >= 100 else f"{number:.1f}"


def errors(run: dict[str, str] | None) -> str:
    if not run or "requests" not in run:
        return "—"
    text = run.get("non2xx", "0")
    if run.get("statuses"):
        text += f" ({run['statuses']})"
    if run.get("socket_errors", "0") != "0":
        text += f", {run['socket_errors']} socket err"
    probe = run.get("probe", "")
    if probe and not probe.startswith("2"):
        text += f", probe {probe}"
    return text


def ratio(a: str | None, b: str | None) -> str:
    if not a or not b or float(b) == 0:
        return "—"
    return f"{float(a) / float(b):.2f}"


def meta_lines(out_dir: Path, name: str = "meta.txt") -> dict[str, str]:
    return read_kv(out_dir / name)


def rss_section(out_dir: Path, prefix: str) -> list[str]:
    lines = []
    for path in sorted(out_dir.glob(f"{prefix}*.txt")):
        label = path.stem[len(prefix) :]
        lines.append(f"- {label}: {path.read_text().strip()}")
    return lines


# --------------------------------------------------------------------------- main report


def scenario_table(runs: list[dict[str, str]], group: str) -> list[str]:
    by_key = {(r["scenario"], r["app"]): r for r in runs if r["group"] == group}
    head = (
        "| scenario | ours req/s | ours p50 ms | ours p99 ms | ours non-2xx "
        "| floor req/s | floor p50 ms | floor p99 ms | floor non-2xx | ours/floor req/s |"
    )
    lines = [head, "|" + " --- |" * 10]
    for scenario in READS + WRITES + ["login"] + LIMITS + TRACING:
        ours = by_key.get((scenario, "ours"))
        floor = by_key.get((scenario, "floor"))
        if ours is None and floor is None:
            continue
        o = ours or {}
        f = floor or {}
        lines.append(
            f"| {scenario} | {rps(o.get('rps'))} | {ms(o.get('p50_us'))} | {ms(o.get('p99_us'))} "
            f"| {errors(ours)} | {rps(f.get('rps'))} | {ms(f.get('p50_us'))} "
            f"| {ms(f.get('p99_us'))} | {errors(floor)} | {ratio(o.get('rps'), f.get('rps'))} |"
        )
    return lines


def cpu(value: str | None) -> str:
    return "—" if not value else f"{float(value):.2f}"


def cpu_table(runs: list[dict[str, str]], group: str) -> list[str]:
    by_key = {(r["scenario"], r["app"]): r for r in runs if r["group"] == group}
    lines = [
        "| scenario | ours app | ours PostgreSQL | ours Redis | floor app | floor PostgreSQL "
        "| app CPU ours/floor |",
        "|" + " --- |" * 7,
    ]
    for scenario in READS + WRITES + ["login"] + LIMITS + TRACING:
        o = by_key.get((scenario, "ours"), {})
        f = by_key.get((scenario, "floor"), {})
        if not o and not f:
            continue
        lines.append(
            f"| {scenario} | {cpu(o.get('cpu_app_ms'))} | {cpu(o.get('cpu_pg_ms'))} "
            f"| {cpu(o.get('cpu_redis_ms'))} | {cpu(f.get('cpu_app_ms'))} "
            f"| {cpu(f.get('cpu_pg_ms'))} | {ratio(o.get('cpu_app_ms'), f.get('cpu_app_ms'))} |"
        )
    return lines


def derived(runs: list[dict[str, str]], group: str) -> list[str]:
    by_key = {(r["scenario"], r["app"]): r for r in runs if r["group"] == group}

    def r(scenario: str) -> str | None:
        return by_key.get((scenario, "ours"), {}).get("rps")

    pairs = [
        ("authenticated / anonymous, uncached item", "item_uncached_auth", "item_uncached"),
        ("authenticated / anonymous, cached item", "item_hot_auth", "item_hot"),
        ("API key / JWT, GET /api/users/me (goal >= 0.90)", "users_me_key", "users_me"),
        ("cached / uncached item", "item_hot", "item_uncached"),
        ("cached / uncached list page 1", "list_p1_hot", "list_p1"),
        ("per_page=100 / per_page=20", "list_100", "list_p1"),
        ("deep page by next link / page 1", "list_deep", "list_p1"),
        ("deep page by page number / page 1", "list_deep_offset", "list_p1"),
    ]
    lines = []
    for label, a, b in pairs:
        if r(a) and r(b):
            lines.append(f"- {label} (ours, req/s): {ratio(r(a), r(b))}")
    # What rate limiting costs a cached read (API.md: at most 15% more than without limits).
    for label, kind in (("cached item", "item_hot"), ("cached list page 1", "list_p1_hot")):
        on = by_key.get((f"{kind}_limits_on", "ours"))
        off = by_key.get((f"{kind}_limits_off", "ours"))
        if on and off:
            lines.append(
                f"- limits on / off, {label}: req/s {ratio(on.get('rps'), off.get('rps'))}, "
                f"app CPU per request {ratio(on.get('cpu_app_ms'), off.get('cpu_app_ms'))} "
                f"({cpu(on.get('cpu_app_ms'))} / {cpu(off.get('cpu_app_ms'))} ms)"
            )
    # What tracing costs (docs/operations.md "Tracing"): on / off, same restart, same reads.
    for label, kind in (("cached item", "item_hot"), ("uncached item", "item_uncached")):
        on = by_key.get((f"{kind}_tracing_on", "ours"))
        off = by_key.get((f"{kind}_tracing_off", "ours"))
        if on and off:
            lines.append(
                f"- tracing on / off, {label}: req/s {ratio(on.get('rps'), off.get('rps'))}, "
                f"app CPU per request {ratio(on.get('cpu_app_ms'), off.get('cpu_app_ms'))} "
                f"({cpu(on.get('cpu_app_ms'))} / {cpu(off.get('cpu_app_ms'))} ms)"
            )
    return lines


def render_main(out_dir: Path) -> list[str]:
    meta = meta_lines(out_dir)
    runs = read_runs(out_dir, "main")
    groups: list[str] = []
    for run in runs:
        if run["group"] not in groups:
            groups.append(run["group"])
    lines = [
        "# Benchmark results",
        "",
        "Produced by `bash bench/run.sh` (see bench/README.md). Compare ratios, not absolute",
        "numbers: the machine is shared, and wrk runs on the same 2 cores as the servers.",
        "",
        f"- date: {meta.get('date', '?')}",
        f"- machine: {meta.get('nproc', '?')} cores (nproc), {meta.get('mem', '?')} memory, "
        f"{meta.get('kernel', '?')}",
        f"- software: {meta.get('python', '?')}, gunicorn {meta.get('gunicorn', '?')}, "
        f"{meta.get('postgres', '?')}, Redis {meta.get('redis', '?')}, {meta.get('wrk', '?')}",
        f"- gunicorn (both apps, gunicorn.conf.py): {meta.get('gunicorn_settings', '?')}",
        f"- wrk: {meta.get('wrk_args', '?')} per scenario, after a warm-up",
        f"- code: {meta.get('commit', '?')}",
        f"- app: FLASK_CONFIG=production, {meta.get('limits', '?')} (the `_limits_off` rows: "
        f"RATELIMIT_ENABLED=false; the `_tracing_on` rows: OTEL_EXPORTER_OTLP_ENDPOINT set), "
        f"cache on Redis db {meta.get('redis_db', '?')}, "
        f"access log to a file; {meta.get('db_note', '')}",
    ]
    for group in groups:
        seed = meta.get(f"seed_{group}", "?")
        lines += [
            "",
            f"## {int(group):,} items, 1,000 users",
            "",
            f"Seed: {seed}. Floor parity: {meta.get(f'parity_{group}', '?')}. "
            f"Load average (1, 5, 15 min) {meta.get(f'load_{group}', '?')}. "
            f"Errors or tracebacks in the server logs: {meta.get(f'errors_{group}', '?')}. "
            f"Code: {meta.get(f'commit_{group}', meta.get('commit', '?'))}.",
            "",
        ]
        lines += scenario_table(runs, group)
        lines += [
            "",
            "CPU time per request (ms; utime+stime of the gunicorn workers, of the PostgreSQL",
            "backends of the bench database, and of redis-server):",
            "",
        ]
        lines += cpu_table(runs, group)
        extra = derived(runs, group)
        if extra:
            lines += ["", "Within ours:", ""] + extra
        rss = rss_section(out_dir, f"rss-{group}-")
        if rss:
            lines += ["", "Worker RSS (`ps -o rss`):", ""] + rss
    lines += [
        "",
        "## Scenarios",
        "",
        "| scenario | request |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {text} |" for name, text in SCENARIOS.items()]
    lines += [
        "",
        "`ours/floor req/s` = our requests/s divided by the floor app's in the same run: 1.00",
        "means no framework overhead, 0.25 means the floor serves 4x more. The floor has no",
        "response cache, so for the cached (`_hot`) rows the ratio can exceed 1. Latencies are",
        "wrk's (coordinated omission not corrected); non-2xx counts every response outside",
        "200-299 (status codes in parentheses), plus socket errors and timeouts if any.",
        "CPU per request is the steadier measure on a shared machine: requests/s moves with",
        "whatever else runs, CPU milliseconds per request much less.",
    ]
    return lines


# --------------------------------------------------------------------------- compare report


def render_compare(out_dir: Path) -> list[str]:
    meta = meta_lines(out_dir)
    runs = read_runs(out_dir, "compare")
    configs: list[str] = []
    for run in runs:
        if run["group"] not in configs:
            configs.append(run["group"])
    lines = [
        COMPARE_BEGIN,
        "",
        "## Worker classes (bench/compare_workers.sh)",
        "",
        f"- date: {meta.get('date', '?')}; {meta.get('nproc', '?')} cores; "
        f"{meta.get('size', '?')} items; wrk {meta.get('wrk_args', '?')}",
        "- both apps run under each setting; RSS is the sum over the workers of each app",
        "- slow + idle: `bench/slow_clients.py` against ours (50 connections trickling a header "
        "or body one byte every 3 s, 50 idle Socket.IO clients on the websocket transport), "
        "then 50 timed item reads: read p99 ms, failed reads, idle sockets that connected",
        "",
        "| gunicorn | scenario | ours req/s | ours p50 ms | ours p99 ms | ours non-2xx "
        "| ours app CPU ms/req | floor req/s | floor p99 ms | ours/floor req/s "
        "| RSS ours / floor (MiB) | slow + idle: read p99 ms, failed, sockets |",
        "|" + " --- |" * 12,
    ]
    for config in configs:
        by_key = {(r["scenario"], r["app"]): r for r in runs if r["group"] == config}
        rss = read_kv(out_dir / f"rss-compare-{config}.kv")
        rss_text = f"{rss.get('ours', '?')} / {rss.get('floor', '?')}"
        slow = read_kv(out_dir / f"slow-{config}.kv")
        slow_text = (
            f"{slow.get('p99_ms', '?')}, {slow.get('failed', '?')}/{slow.get('reads', '?')}, "
            f"{slow.get('idle_connected', '?')}/{slow.get('idle', '?')}"
        )
        for scenario in ("item_uncached", "list_p1"):
            o = by_key.get((scenario, "ours"), {})
            f = by_key.get((scenario, "floor"), {})
            lines.append(
                f"| {config} | {scenario} | {rps(o.get('rps'))} | {ms(o.get('p50_us'))} "
                f"| {ms(o.get('p99_us'))} | {errors(o or None)} | {cpu(o.get('cpu_app_ms'))} "
                f"| {rps(f.get('rps'))} "
                f"| {ms(f.get('p99_us'))} | {ratio(o.get('rps'), f.get('rps'))} | {rss_text} "
                f"| {slow_text if scenario == 'item_uncached' else ''} |"
            )
    lines += ["", COMPARE_END]
    return lines


def split_section(text: str, begin: str, end_marker: str) -> tuple[str, str]:
    """The report without one marked section, and that section (empty when absent)."""
    start = text.find(begin)
    end = text.find(end_marker)
    if start == -1 or end == -1:
        return text, ""
    end += len(end_marker)
    return (text[:start].rstrip() + "\n" + text[end:].lstrip("\n")), text[start:end]


def split_compare(text: str) -> tuple[str, str]:
    """The report without its compare section, and that section (empty when absent)."""
    return split_section(text, COMPARE_BEGIN, COMPARE_END)


def write_results(results: Path, main: str | None, compare: str | None) -> None:
    old = results.read_text() if results.exists() else ""
    # The hand-written assessment of the targets survives regeneration (edit it after a run).
    old, targets = split_section(old, TARGETS_BEGIN, TARGETS_END)
    old, worker_model = split_section(old, WORKER_MODEL_BEGIN, WORKER_MODEL_END)
    old_main, old_compare = split_compare(old)
    body = (main if main is not None else old_main).rstrip() + "\n"
    for section in (compare if compare is not None else old_compare, worker_model, targets):
        if section:
            body += "\n" + section.strip() + "\n"
    results.write_text(body)
    print(f"wrote {results}")


def main(argv: list[str]) -> int:
    if len(argv) >= 4 and argv[0] == "parity":
        return parity(argv[1].rstrip("/"), argv[2].rstrip("/"), argv[3], argv[4:])
    if len(argv) == 3 and argv[0] == "main":
        write_results(Path(argv[2]), "\n".join(render_main(Path(argv[1]))), None)
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        write_results(Path(argv[2]), None, "\n".join(render_compare(Path(argv[1]))))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
