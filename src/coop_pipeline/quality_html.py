"""The data-quality report as one self-contained HTML page: verdict, checks, inline-SVG charts.

Nothing is fetched: styles are inline, fonts are the reader's system fonts, charts are SVG drawn by
`svgchart`, and there is no script, so the page opens the same from a file, a mail or a CI artifact.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from coop_pipeline import svgchart

OK_BAR, WARN_BAR = "#8fa3b8", "#D55E00"
RATE_CATEGORIES = {"nulls", "quarantine", "coverage", "drift"}
STATUS_ORDER = ("occurred", "ongoing", "planned", "proposed")
VERDICT_TEXT = {
    "passed": "All checks passed",
    "warnings": "Usable, with warnings",
    "failed": "Critical checks failed: do not trust this data",
}

CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#f5f7fa; --ok:#1e7b4f; --warn:#a15c00; --bad:#b42318; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 24px 48px; }
h1 { font-size: 28px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 19px; margin: 32px 0 12px; }
h3 { font-size: 14px; margin: 0 0 10px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
.verdict { border-radius: 12px; padding: 20px 24px; color: #fff; display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: center; justify-content: space-between; }
.verdict.passed { background: linear-gradient(135deg, #1e7b4f, #2f9e6a); }
.verdict.warnings { background: linear-gradient(135deg, #a15c00, #d08a1c); }
.verdict.failed { background: linear-gradient(135deg, #a41d14, #d0432f); }
.verdict .sub { opacity: .92; font-size: 14px; }
.verdict .tally { display: flex; gap: 10px; flex-wrap: wrap; }
.tally span { background: rgba(255,255,255,.18); border-radius: 999px; padding: 4px 12px; font-weight: 600; font-size: 14px; white-space: nowrap; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 12px; margin-top: 16px; }
.card, .panel { background: #fff; border: 1px solid var(--line); border-radius: 10px; }
.card { padding: 12px 14px; }
.card .n { font-size: 24px; font-weight: 700; font-variant-numeric: tabular-nums; }
.card .l { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 14px; }
.panel { overflow-x: auto; }
th, td { text-align: left; padding: 8px 12px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #fafbfc; color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; position: sticky; top: 0; }
tr:last-child td { border-bottom: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; white-space: nowrap; }
td.ids { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; color: var(--muted); max-width: 260px; word-break: break-all; }
tr.fail.critical td { background: #fff5f4; }
tr.fail.warning td { background: #fffaf0; }
.pill { display: inline-block; border-radius: 999px; padding: 1px 10px; font-size: 12px; font-weight: 700; letter-spacing: .03em; }
.pill.pass { background: #e3f4ea; color: var(--ok); }
.pill.fail.critical { background: #fde4e1; color: var(--bad); }
.pill.fail.warning { background: #fdf0d9; color: var(--warn); }
.chips { display: flex; flex-wrap: wrap; gap: 8px; margin: 0 0 12px; }
.chip { border-radius: 8px; padding: 4px 10px; font-size: 13px; border: 1px solid var(--line); background: #fff; }
.chip.pass { color: var(--ok); } .chip.fail.critical { color: var(--bad); background: #fde4e1; border-color: #f6c2bb; }
.chip.fail.warning { color: var(--warn); background: #fdf0d9; border-color: #f3d9a8; }
.allgood { background: #e3f4ea; color: var(--ok); border-radius: 8px; padding: 10px 14px; font-weight: 600; }
.sev { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 16px; }
.panel.chart-box { padding: 16px 18px; }
svg.chart { display: block; max-width: 560px; height: auto; font-family: inherit; }
details { margin-top: 10px; }
summary { cursor: pointer; color: var(--muted); font-size: 14px; }
.meta { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 16px; }
footer { margin-top: 32px; color: var(--muted); font-size: 13px; }
@media print { body { background: #fff; } .verdict { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""


def _fmt(value: object, rate: bool) -> str:
    if value is None:
        return "–"
    if rate and isinstance(value, (int, float)):
        return f"{value * 100:.1f} %"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value))


def _checks_table(checks: list[dict]) -> str:
    def rank(c: dict) -> tuple:
        return (c["passed"], c["severity"] != "critical")
    failed = [c for c in sorted(checks, key=rank) if not c["passed"]]
    passed = [c for c in checks if c["passed"]]
    head = "<tr><th>Status</th><th>Severity</th><th>Check</th><th>Value</th><th>Threshold</th><th>Details</th><th>Sample ids</th></tr>"
    def rows(items: list[dict]) -> str:
        out = []
        for c in items:
            rate = c["category"] in RATE_CATEGORIES and isinstance(c["threshold"], float)
            state = "pass" if c["passed"] else f"fail {c['severity']}"
            label = "PASS" if c["passed"] else "FAIL"
            cmp_ = escape(c.get("comparison", "<="))
            out.append(
                f'<tr class="{state}"><td><span class="pill {state}">{label}</span></td><td class="sev">{escape(c["severity"])}</td>'
                f'<td class="name">{escape(c["name"])}</td><td class="num">{_fmt(c["value"], rate)}</td>'
                f'<td class="num">{cmp_} {_fmt(c["threshold"], rate)}</td><td>{escape(c["message"])}</td>'
                f'<td class="ids">{escape(", ".join(c["sample_ids"]))}</td></tr>'
            )
        return "".join(out)
    body = _categories(checks)
    body += f'<div class="panel"><table id="checks">{head}{rows(failed)}</table></div>' if failed else '<p class="allgood">No check failed.</p>'
    if passed:
        body += f'<details><summary>Show the {len(passed)} passed checks</summary><div class="panel"><table id="passed-checks">{head}{rows(passed)}</table></div></details>'
    return body


def _categories(checks: list[dict]) -> str:
    """One chip per category: how many of its checks passed, coloured by its worst failure."""
    chips = []
    for cat in dict.fromkeys(c["category"] for c in checks):
        mine = [c for c in checks if c["category"] == cat]
        bad = [c for c in mine if not c["passed"]]
        state = "pass" if not bad else "fail critical" if any(c["severity"] == "critical" for c in bad) else "fail warning"
        chips.append(f'<span class="chip {state}">{escape(cat)} <b>{len(mine) - len(bad)}/{len(mine)}</b></span>')
    return f'<div class="chips">{"".join(chips)}</div>'


def _charts(stats: dict) -> list[tuple[str, str]]:
    by_ts = stats.get("events_by_type_status", [])
    types = sorted({r["event_type"] for r in by_ts}, key=lambda t: -sum(r["n"] for r in by_ts if r["event_type"] == t))
    statuses = [s for s in STATUS_ORDER if any(r["status"] == s for r in by_ts)] + sorted({r["status"] for r in by_ts} - set(STATUS_ORDER))
    values = {(r["event_type"], r["status"]): r["n"] for r in by_ts}
    trend = stats.get("trend", [])
    labels = [_when(r) for r in trend]
    series = {k: [r.get(k, 0) for r in trend] for k in ("articles", "entities", "events", "mentions", "quarantined")}
    series = {k: v for k, v in series.items() if any(v)} or ({"articles": [0] * len(trend)} if trend else {})
    nulls = stats.get("null_rates", [])
    return [
        ("Events per type and status", svgchart.stacked_hbar(types, statuses, values, "events per type and status")),
        ("Events per month (event date)", svgchart.vbar(list(stats.get("events_by_period", {}).items()), "events per month", color=svgchart.PALETTE[0])),
        ("Articles per month (publication date)", svgchart.vbar(list(stats.get("articles_by_period", {}).items()), "articles per month", color=svgchart.PALETTE[2])),
        ("Entities per type", svgchart.hbar(sorted(stats.get("entities_by_type", {}).items(), key=lambda kv: -kv[1]), "entities per type", color=svgchart.PALETTE[4])),
        ("Top country pairs (events)", svgchart.hbar(list(stats.get("country_pairs", {}).items()), "top country pairs", color=svgchart.PALETTE[3])),
        ("Quarantine reasons", svgchart.hbar(list(stats.get("quarantine_reasons", {}).items()), "quarantine reasons", color=svgchart.PALETTE[5])),
        ("Null rates (tick = threshold)", svgchart.hbar([(n["name"].replace("_", " "), n["value"]) for n in nulls], "null rates", percent=True,
                                                     markers=[n["threshold"] for n in nulls], colors=[OK_BAR if n.get("passed", True) else WARN_BAR for n in nulls])),
        ("Main counts over the last runs", svgchart.lines(labels, series, "main counts over runs")),
    ]


def _when(run: dict) -> str:
    """A short x label for a run: its start as month-day hour:minute."""
    try:
        return dt.datetime.fromisoformat(run["started_at"]).strftime("%m-%d %H:%M")
    except (KeyError, TypeError, ValueError):
        return run.get("run_id", "?")[:13]


def _kv_table(title: str, items: dict) -> str:
    rows = "".join(f"<tr><td>{escape(str(k))}</td><td class=\"num\">{_fmt(v, False)}</td></tr>" for k, v in items.items())
    return f'<div><h2>{escape(title)}</h2><div class="panel"><table>{rows}</table></div></div>'


def render(report: dict) -> str:
    """The whole page for one report dict (see quality.build_report)."""
    v, s, counts, inputs = report["verdict"], report["summary"], report["row_counts"], report.get("inputs", {})
    cards = [("raw files", counts.get("files", 0)), ("articles", counts.get("articles", 0)), ("entities", counts.get("entities", 0)),
             ("mentions", counts.get("mentions", 0)), ("events", counts.get("events", 0)), ("relationships", counts.get("relationships", 0)),
             ("quarantined", counts.get("quarantine", 0))]
    card_html = "".join(f'<div class="card"><div class="n">{n:,}</div><div class="l">{escape(label)}</div></div>' for label, n in cards)
    charts = "".join(f'<figure class="panel chart-box" style="margin:0"><h3>{escape(t)}</h3>{svg}</figure>' for t, svg in _charts(report.get("stats", {})))
    previous = report.get("previous_run_id") or "none"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Data quality {escape(v)} · run {escape(report['run_id'])}</title><style>{CSS}</style></head>
<body><main>
<section class="verdict {escape(v)}" id="verdict" data-verdict="{escape(v)}">
  <div><h1>Data quality: {escape(v.upper())}</h1>
  <div class="sub">{escape(VERDICT_TEXT[v])} · run {escape(report['run_id'])} · generated {escape(report['generated_at'])} · coop-pipeline {escape(report['pipeline_version'])}</div></div>
  <div class="tally"><span>{s['critical_failed']} critical failed</span><span>{s['warnings_failed']} warnings</span><span>{s['passed']} / {s['checks']} passed</span></div>
</section>
<div class="cards">{card_html}</div>
<h2>Checks</h2>
{_checks_table(report['checks'])}
<h2>Charts</h2>
<div class="grid">{charts}</div>
<div class="meta">{_kv_table("Inputs", {k: v for k, v in inputs.items() if v is not None})}{_kv_table("Rows per table", counts)}</div>
<footer>Compared with run {escape(previous)}. Machine-readable: latest.json beside this page. Earlier reports: &lt;run_id&gt;.html in the same folder.</footer>
</main></body></html>
"""
