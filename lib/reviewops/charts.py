"""Charts for the reports and the dashboard, drawn with matplotlib and labelled in Chinese.

Every chart function returns a matplotlib ``Figure``; ``png(fig)`` gives its PNG bytes, which a notebook
shows with ``IPython.display.Image`` and the report's HTML embeds as a ``data:`` image (the report's CSP
allows ``img-src data:``). ``use_cjk_font()`` picks an installed
CJK font (Debian's ``fonts-noto-cjk``: Noto Sans CJK SC) so that 中差评率 is drawn as text, not boxes;
when none is installed it returns None and the charts fall back to the default font (the labels then
show as boxes — install ``fonts-noto-cjk``).

The Agg backend is used (no display needed); labels are plain text (matplotlib's mathtext is
disabled for them, so a ``$`` in a SKU name is never interpreted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["CJK_FONTS", "bar_figure", "png", "trend_figure", "use_cjk_font"]

#: Preferred CJK families, most specific first (Simplified Chinese glyph forms).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "Noto Sans CJK JP",
             "Microsoft YaHei", "PingFang SC", "SimHei")
_chosen: list[str | None] = []


def use_cjk_font() -> str | None:
    """Configure matplotlib for Chinese labels; returns the family used, or None when none is installed."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import font_manager, rcParams

    if not _chosen:
        installed = {f.name for f in font_manager.fontManager.ttflist}
        _chosen.append(next((f for f in CJK_FONTS if f in installed), None))
    family = _chosen[0]
    if family is not None:
        rcParams["font.sans-serif"] = [family, *[f for f in rcParams["font.sans-serif"] if f != family]]
        rcParams["font.family"] = "sans-serif"
    rcParams["axes.unicode_minus"] = False  # the CJK fonts lack U+2212
    rcParams["text.parse_math"] = False
    rcParams["svg.fonttype"] = "none"
    return family


def _figure(width: float = 6.4, height: float = 3.0) -> tuple[Figure, Any]:
    use_cjk_font()
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    return fig, fig.add_subplot(1, 1, 1)


def trend_figure(trend: pd.DataFrame, *, title: str = "中差评率趋势（按周）") -> Figure:
    """A line of the weekly 中差评率 (%) with the count on each point; ``trend`` has week, negative, rate."""
    import math

    fig, ax = _figure()
    weeks = [str(w) for w in trend["week"]]
    rates = [0.0 if r is None or (isinstance(r, float) and math.isnan(r)) else float(r) * 100 for r in trend["rate"]]
    ax.plot(weeks, rates, marker="o", color="#c0392b")
    for x, y, n in zip(weeks, rates, trend["negative"], strict=True):
        ax.annotate(f"{int(n)} 条", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.set_ylabel("中差评率（%）")
    ax.set_title(title)
    ax.set_ylim(bottom=0, top=max(rates + [1.0]) * 1.25)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def bar_figure(labels: list[str], values: list[float], *, title: str, unit: str = "", horizontal: bool = True,
               max_label: int = 18) -> Figure:
    """Bars for a breakdown (category mix, cost by kind …); long labels are shortened with …."""
    short = [(s if len(s) <= max_label else s[: max_label - 1] + "…") for s in (str(x) for x in labels)]
    fig, ax = _figure(height=max(2.2, 0.42 * len(short) + 1.0) if horizontal else 3.0)
    if horizontal:
        ax.barh(short[::-1], list(values)[::-1], color="#2e86c1")
        ax.set_xlabel(unit)
    else:
        ax.bar(short, list(values), color="#2e86c1")
        ax.set_ylabel(unit)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (for ``IPython.display.Image`` or a file)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
