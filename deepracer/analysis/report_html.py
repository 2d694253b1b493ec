"""The report page: one self-contained HTML file beside its figures and CSV tables.

Tables sort on a click on their header (a few lines of inline script, progressive
enhancement: without script they are plain tables); each cell keeps its exact value in
`data-v` and shows it rounded with its unit in the header.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from deepracer.analysis.report import Report

# column -> (header, decimals); columns not listed keep their name and 3 decimals
COLUMNS: dict[str, tuple[str, int]] = {
    "kind": ("kind", 0), "iteration": ("iteration", 0), "unique_episode": ("episode #", 0), "episode": ("episode", 0),
    "stream": ("run", 0), "steps": ("steps", 0), "start_at": ("start waypoint", 0), "progress": ("progress (%)", 1),
    "time": ("time (s)", 3), "lap_time_s": ("lap time (s)", 3), "dist": ("distance (m)", 2),
    "speed": ("mean speed (m/s)", 2), "mean_speed": ("mean speed (m/s)", 2), "reward": ("reward", 1),
    "off_track": ("off-track", 0), "crashed": ("crashed", 0), "status": ("status", 0),
    "time_if_complete": ("time if complete (s)", 2), "complete": ("lap completed", 0), "episodes": ("episodes", 0),
    "mean_reward": ("mean reward", 1), "std_reward": ("reward std", 1), "mean_progress": ("mean progress (%)", 1),
    "completion_rate": ("laps completed (%)", 1), "mean_time": ("mean time (s)", 2),
    "mean_lap_time": ("mean lap (s)", 3), "best_lap_time": ("best lap (s)", 3),
    "training_completion": ("training completion (%)", 1), "evaluation_completion": ("evaluation completion (%)", 1),
}
PERCENT_FRACTIONS = {"completion_rate"}  # stored 0..1, shown as %
HTML_ROWS = 2000  # a longer table shows its first rows; the CSV has them all

CSS = """
:root{--fg:#16191f;--muted:#5f6b7a;--line:#d5dbdb;--bg:#fafafa;--accent:#0972d3}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg);margin:0}main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}.sub{color:var(--muted);margin:0 0 16px}
.summary{display:grid;grid-template-columns:max-content 1fr;gap:6px 18px;background:#fff;border:1px solid var(--line);
border-radius:8px;padding:16px 20px;margin:0}.summary dt{font-weight:600;color:var(--muted)}.summary dd{margin:0}
figure{background:#fff;border:1px solid var(--line);border-radius:8px;margin:0 0 18px;padding:12px}
figure img{display:block;max-width:100%;height:auto;margin:0 auto}figcaption{color:var(--muted);font-size:13px;margin-top:6px}
.tablewrap{max-height:420px;overflow:auto;background:#fff;border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;font-size:12.5px;width:100%}th,td{padding:4px 8px;border-bottom:1px solid #eef0f0;
text-align:right;white-space:nowrap}th{position:sticky;top:0;background:#f2f3f3;cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td.text,th.text{text-align:left}.note{color:var(--muted);font-size:12px}nav a{margin-right:12px;color:var(--accent)}
"""

SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.tabIndex = 0;
    function sort() {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (o) { o.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v, nx = parseFloat(x), ny = parseFloat(y);
        var r = (isFinite(nx) && isFinite(ny)) ? nx - ny : String(x).localeCompare(String(y));
        return asc ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(); } });
  });
});
"""


def _cell(column: str, value: Any) -> str:
    header, decimals = COLUMNS.get(column, (column, 3))
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "<td data-v=''></td>"
    if isinstance(value, str):
        shown = value.replace("_", " ")
        return f"<td class='text' data-v='{html.escape(value, quote=True)}'>{html.escape(shown)}</td>"
    raw = float(value)
    if column in PERCENT_FRACTIONS:
        raw *= 100
    if column == "complete":
        return f"<td data-v='{raw:g}'>{'yes' if raw else 'no'}</td>"
    shown = f"{raw:,.{decimals}f}" if decimals else f"{int(round(raw)):,}"
    return f"<td data-v='{raw!r}'>{shown}</td>"


def table_html(frame: pd.DataFrame, table_id: str) -> tuple[str, str]:
    """(table markup, note about omitted rows)."""
    shown = frame.head(HTML_ROWS)
    heads = []
    for c in shown.columns:
        kind = "" if pd.api.types.is_numeric_dtype(shown[c]) else "text"
        heads.append(f"<th class='{kind}' scope='col'>{html.escape(COLUMNS.get(c, (c, 3))[0])}</th>")
    body = []
    columns = list(shown.columns)
    for row in shown.itertuples(index=False):
        body.append("<tr>" + "".join(_cell(c, v) for c, v in zip(columns, row, strict=True)) + "</tr>")
    note = f"first {HTML_ROWS:,} of {len(frame):,} rows; the CSV has them all" if len(frame) > HTML_ROWS else ""
    return (f"<table class='sortable' id='{table_id}'><thead><tr>{''.join(heads)}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>", note)


def write_html(path: Path, summary: dict[str, Any], rep: Report, headline: list[tuple[str, str]]) -> None:
    name = Path(summary["logdir"]).name or summary["logdir"]
    rows = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in headline)
    sources = len(summary.get("sources") or [])
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'><link rel='icon' href='data:,'>",
        f"<title>Analysis: {html.escape(name)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>Analysis: {html.escape(name)}</h1>",
        f"<p class='sub'>{sources} log file{'s' if sources != 1 else ''} from {html.escape(summary['logdir'])}</p>",
        f"<dl class='summary' id='summary'>{rows}</dl>",
        "<nav><a href='#figures'>Figures</a><a href='#tables'>Tables</a><a href='summary.json'>summary.json</a></nav>",
        "<h2 id='figures'>Figures</h2>",
    ]
    for f in rep.figures:
        cap = f"<figcaption><b>{html.escape(f.title)}</b>{' — ' + html.escape(f.caption) if f.caption else ''}</figcaption>"
        parts.append(f"<figure><img src='{html.escape(f.path.name)}' alt='{html.escape(f.title)}'>{cap}</figure>")
    parts.append("<h2 id='tables'>Tables</h2><p class='note'>Click a column header to sort.</p>")
    for i, t in enumerate(rep.tables):
        markup, note = table_html(t.frame, f"table{i}")
        parts.append(f"<h2>{html.escape(t.title)} <small><a href='{html.escape(t.path.name)}'>{html.escape(t.path.name)}"
                     f"</a></small></h2>" + (f"<p class='note'>{html.escape(note)}</p>" if note else ""))
        parts.append(f"<div class='tablewrap'>{markup}</div>")
    parts.append(f"<script>{SORT_SCRIPT}</script></main></body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
