"""The benchmark's output: a Markdown table of the items, the import and the load, and which targets were met."""

import json
from pathlib import Path

from demo.bench.items import TRIVIAL


def item_met(item: dict) -> bool | None:
    """Whether the item meets its target (None: no target, or nothing to judge)."""
    target = item.get("target")
    if not target or item.get("problems"):
        return None if not target else False
    if target["kind"] == "ratio_p95":
        return item["ratio_p95"] is not None and item["ratio_p95"] <= target["limit"]
    if target["kind"] == "median_ms":
        return item["median_ms"] < target["limit"]
    if target["kind"] == "p95_ms":
        return item["p95_ms"] < target["limit"]
    raise ValueError(target["kind"])


def _ms(value) -> str:
    return "—" if value is None else f"{value:.1f}"


def _x(value) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _verdict(met) -> str:
    return {True: "met", False: "**missed**", None: "info"}[met]


def items_table(items: list[dict]) -> list[str]:
    lines = [
        "| item | median ms | p95 ms | p99 ms | queries | floor median / p95 ms | ratio median | ratio p95 "
        "| target | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for item in items:
        floor = item["floor"]
        label = item["label"]
        if item.get("problems"):
            label += " ⚠ " + "; ".join(item["problems"])
        elif item["checks"].get("verified_last"):
            label += " (next: null ✓)"
        target = item["target"]["text"] if item.get("target") else "—"
        if item.get("target") and item["target"]["kind"] == "median_ms" and item["floor_url"] == TRIVIAL:
            target += " (floor: trivial JSON)"
        lines.append(
            f"| {label} | {_ms(item['median_ms'])} | {_ms(item['p95_ms'])} | {_ms(item['p99_ms'])} "
            f"| {item['queries']} | {_ms(floor['median_ms'])} / {_ms(floor['p95_ms'])} | {_x(item['ratio_median'])} "
            f"| {_x(item['ratio_p95'])} | {target} | {_verdict(item['met'])} |"
        )
    return lines


def import_lines(result: dict) -> list[str]:
    if "error" in result:
        return [f"CSV import: **failed**: {result['error']}"]
    met = result["met"]
    return [
        "| import | rows | new | rows/s | peak RSS MB | RSS growth MB | target | met |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
        f"| customers CSV, {result['failed']} bad rows | {result['rows']:,} | {result['created']:,} "
        f"({result['new_share']:.0%}) | {result['rows_per_second']:,.0f} | {result['peak_rss_mb']:.0f} "
        f"| {result['rss_growth_mb']:.0f} | ≥ 20,000 rows/s, ≤ 300 MB peak RSS "
        f"| {_verdict(met['rows_per_second'])}, {_verdict(met['peak_rss_mb'])} |",
        "",
        f"Memory: {result['memory_measure']}.",
    ]


def load_lines(result: dict) -> list[str]:
    lines = []
    if "error" in result:
        lines.append(f"Mixed load: **failed**: {result['error']}")
    runs = [(name, result[name]) for name in ("app", "floor") if name in result]
    if runs:
        lines += [
            f"Mixed load, {result['seconds']:.0f} s per run on gunicorn {result['server']['workers']} workers × "
            f"{result['server']['threads']} threads, wrk {result['connections']} connections on loopback: "
            f"{result['mix']}.",
            "",
            "| run | requests | req/s | p50 ms | p95 ms | p99 ms | errors | CPU ms/request (gunicorn) "
            "| CPU ms/request (machine) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, figures in runs:
            lines.append(
                f"| {'Relay' if name == 'app' else 'floor'} | {figures['requests']:,} | {figures['rps']:.1f} "
                f"| {figures['p50_ms']:.1f} | {figures['p95_ms']:.1f} | {figures['p99_ms']:.1f} | {figures['errors']} "
                f"| {_ms(figures['cpu_ms_per_request'])} | {_ms(figures['machine_cpu_ms_per_request'])} |"
            )
        lines += ["", "Targets: ≥ 400 req/s, p95 ≤ 50 ms, p99 ≤ 150 ms, 0 errors."]
        for name in ("app", "floor"):
            warm = result.get(f"{name}_warmup")
            if warm and warm["errors"]:
                lines += [
                    "",
                    f"**{warm['errors']} errors in the untimed warm-up** of the {'Relay' if name == 'app' else 'floor'}"
                    f" run ({warm['requests']:,} requests): {'; '.join(warm['last_errors'])[:300]}",
                ]
    return lines


def summary_lines(report: dict) -> list[str]:
    met, missed, broken = [], [], []
    for item in report["items"]:
        if item.get("problems"):
            broken.append(f"{item['label']}: " + "; ".join(item["problems"]))
        if item["met"] is True:
            met.append(item["label"])
        elif item["met"] is False:
            missed.append(
                f"{item['label']}: {item['target']['text']}, measured "
                + (
                    f"{item['ratio_p95']:.2f}× at p95 ({item['p95_ms']:.1f} vs {item['floor']['p95_ms']:.1f} ms)"
                    if item["target"]["kind"] == "ratio_p95"
                    else f"{item['p95_ms']:.1f} ms at p95"
                    if item["target"]["kind"] == "p95_ms"
                    else f"{item['median_ms']:.1f} ms median"
                )
            )
    imported = report.get("import")
    if imported and "met" in imported:
        for key, text in (("rows_per_second", "≥ 20,000 rows/s"), ("peak_rss_mb", "≤ 300 MB peak RSS")):
            value = imported[key]
            (met if imported["met"][key] else missed).append(f"import {text}: {value:,}")
    elif imported:
        broken.append(f"import: {imported.get('error')}")
    load = report.get("load")
    if load and "met" in load:
        app = load["app"]
        for key, text in (("rps", "≥ 400 req/s"), ("p95_ms", "p95 ≤ 50 ms"), ("p99_ms", "p99 ≤ 150 ms")):
            (met if load["met"][key] else missed).append(f"load {text}: {app[key]:,}")
        warm = load.get("app_warmup", {}).get("errors", 0)
        errors = f"{app['errors']}" + (f" (and {warm} in the warm-up)" if warm else "")
        (met if load["met"]["errors"] else missed).append(f"load 0 errors: {errors}")
    if load and "error" in load:
        broken.append(f"load: {load['error'][:500]}")
    lines = [f"**Targets met ({len(met)}):** " + ("; ".join(met) if met else "none") + ".", ""]
    lines.append(f"**Targets missed ({len(missed)}):** " + ("; ".join(missed) if missed else "none") + ".")
    if broken:
        lines += ["", f"**Problems ({len(broken)}):** " + "; ".join(broken) + "."]
    return lines


def markdown(report: dict) -> str:
    sizes = ", ".join(f"{n:,} {label}" for label, n in report["rows"].items())
    lines = [
        f"# Relay benchmark, {report['at']}",
        "",
        f"PostgreSQL {report['versions'].get('postgresql', '?')}, Django {report['versions']['django']}, "
        f"Python {report['versions']['python']}, {report['machine']['cpus']} CPUs. Rows: {sizes}.",
        "",
        "Floors are `.values()` JSON views over the same rows and columns, behind the same middleware, as the same "
        f"user ({report['user']}), timed alternately with the item in the same run (demo/bench/floors.py). "
        "Times in ms, Django's test Client in-process, DEBUG off.",
        "",
    ]
    if report["items"]:
        lines += items_table(report["items"]) + [""]
    if report.get("import"):
        lines += import_lines(report["import"]) + [""]
    if report.get("load"):
        lines += load_lines(report["load"]) + [""]
    lines += summary_lines(report)
    return "\n".join(lines) + "\n"


def write(report: dict, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "latest.json", directory / "latest.md"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    md_path.write_text(markdown(report), encoding="utf-8")
    return json_path, md_path
