"""Charts drawn on the server as SVG, for documents read without JavaScript (the
evidence pack, which WeasyPrint renders to PDF). Horizontal bars: one per group or
feature, coloured by verdict, with an optional vertical line (the four-fifths line,
the PSI thresholds). Every text is escaped; nothing here imports numpy or plotly."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from monitoring import presentation

BAR_HEIGHT, GAP, LABEL_WIDTH, PLOT_WIDTH, VALUE_WIDTH = 18, 6, 190, 330, 60
TOP, BOTTOM = 34, 30


@dataclass
class Bar:
    label: str
    value: float
    colour: str = presentation.COLOURS[presentation.PASS]
    text: str = ""


def bar_chart(title: str, bars: list[Bar], *, axis: str, lines: list[tuple[float, str]] = (), maximum: float | None = None) -> SafeString:
    """A horizontal bar chart; ``lines`` are (x, caption) reference lines."""
    top = max([b.value for b in bars] + [x for x, _ in lines] + [maximum or 0, 1e-9])
    scale = PLOT_WIDTH / top
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    height = TOP + len(bars) * (BAR_HEIGHT + GAP) + BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" font-family="sans-serif" font-size="11">',
        f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for i, bar in enumerate(bars):
        y = TOP + i * (BAR_HEIGHT + GAP)
        w = max(bar.value, 0) * scale
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + 13}" text-anchor="end">{escape(bar.label[:32])}</text>')
        parts.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{w:.1f}" height="{BAR_HEIGHT}" fill="{escape(bar.colour)}"/>')
        parts.append(f'<text x="{LABEL_WIDTH + w + 4:.1f}" y="{y + 13}">{escape(bar.text or presentation.number(bar.value))}</text>')
    plot_bottom = TOP + len(bars) * (BAR_HEIGHT + GAP)
    for i, (x, caption) in enumerate(lines):
        px = LABEL_WIDTH + x * scale
        parts.append(f'<line x1="{px:.1f}" y1="{TOP - 6}" x2="{px:.1f}" y2="{plot_bottom}" stroke="#333" stroke-dasharray="4 3"/>')
        # Captions of neighbouring lines alternate sides, so close thresholds stay readable.
        anchor, dx = ("end", -3) if i % 2 == 0 and len(lines) > 1 else ("start", 3)
        parts.append(f'<text x="{px + dx:.1f}" y="{TOP - 9}" text-anchor="{anchor}" font-size="10">{escape(caption)}</text>')
    parts.append(f'<line x1="{LABEL_WIDTH}" y1="{plot_bottom}" x2="{LABEL_WIDTH + PLOT_WIDTH}" y2="{plot_bottom}" stroke="#999"/>')
    parts.append(f'<text x="{LABEL_WIDTH + PLOT_WIDTH / 2}" y="{plot_bottom + 18}" text-anchor="middle">{escape(axis)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every text above is escaped)


def selection_rate_chart(grouping: dict) -> SafeString:
    """Selection rate per group, failing and needs-review groups coloured, the four-fifths line drawn."""
    bars = [Bar(row["group"], row["metrics"].get("selection_rate") or 0.0, presentation.COLOURS[row["status"]],
                f"{presentation.number(row['metrics'].get('selection_rate'))} ({presentation.VERDICT_WORDS[row['status']]})")
            for row in grouping["rows"]]
    lines = [(grouping["line"], f"four-fifths line {presentation.number(grouping['line'])}")] if grouping.get("line") else []
    return bar_chart(f"Selection rate by {grouping['name']}: four-fifths rule {grouping['verdict_words']}", bars,
                     axis="selection rate", lines=lines, maximum=1.0)


def psi_chart(rows: list[dict], params: dict) -> SafeString:
    bars = [Bar(row["feature"], row.get("psi") or 0.0, presentation.COLOURS.get(row.get("verdict"), "#1f77b4"),
                f"{presentation.number(row.get('psi'))} ({presentation.VERDICT_WORDS.get(row.get('verdict'), '')})") for row in rows]
    warn, fail = float(params.get("psi_warn", 0.1)), float(params.get("psi_fail", 0.2))
    return bar_chart("PSI per feature, coloured by each feature's verdict", bars, axis="population stability index (PSI)",
                     lines=[(warn, f"warn {presentation.number(warn)}"), (fail, f"fail {presentation.number(fail)}")])


def importance_chart(importance: list[dict], explained_output: dict | None) -> SafeString:
    name = (explained_output or {}).get("name", "the prediction")
    bars = [Bar(item["feature"], item["mean_abs_shap"]) for item in importance]
    return bar_chart(f"Global importance of {name}: mean |SHAP value| per feature", bars, axis=f"mean |SHAP value| on {name}")
