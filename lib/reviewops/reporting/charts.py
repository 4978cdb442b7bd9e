"""Charts for the reports and the dashboard, drawn with matplotlib and labelled in Chinese.

Every chart function returns a matplotlib ``Figure``; ``png(fig)`` gives its PNG bytes, which a notebook
shows with ``IPython.display.Image`` and the report's HTML embeds as a ``data:`` image (the report's CSP
allows ``img-src data:``). ``use_cjk_font()`` picks an installed
CJK font (Debian's ``fonts-noto-cjk``: Noto Sans CJK SC) so that 中差评率 is drawn as text, not boxes;
when none is installed it returns None and the charts fall back to the default font (the labels then
show as boxes — install ``fonts-noto-cjk``).

The Agg backend is used (no display needed); labels are plain text (matplotlib's mathtext is
disabled for them, so a ``$`` in a SKU name is never interpreted).

**Nothing to draw.** A chart without data is never drawn as empty axes (matplotlib would pick a range
such as −0.04 … 0.04 and show negative counts): :func:`trend_figure` and :func:`bar_figure` then return
:func:`message_figure` — a figure *without axes* that holds one short Chinese sentence saying why there
is no chart (for example 「中差评分类：所选范围内没有中差评」). :func:`figure_message` gives that sentence
back (None for a real chart), so a form can show it as text instead of an image. Count axes start at 0
and use whole numbers; a week or day without reviews has no rate point (it is marked 无评价, never 0 %).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["CJK_FONTS", "NO_DATA_ZH", "bar_figure", "figure_message", "message_figure", "png", "trend_figure",
           "use_cjk_font"]

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


#: what an empty chart says when its caller gives no reason of its own
NO_DATA_ZH = "没有数据，无图可画"


def message_figure(message: str, *, width: float = 6.4, height: float = 1.4) -> Figure:
    """A figure without axes holding only ``message`` (centred, framed): what a chart with no data shows."""
    use_cjk_font()
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(width, height), dpi=110)
    fig.patches.append(Rectangle((0.005, 0.02), 0.99, 0.96, transform=fig.transFigure, fill=False,
                                 edgecolor="#c8ced3", linewidth=1))
    fig.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#546e7a", wrap=True)
    return fig


def figure_message(fig: Figure) -> str | None:
    """The sentence of a :func:`message_figure` (None when ``fig`` is a real chart with axes)."""
    if fig.axes or not fig.texts:
        return None
    return str(fig.texts[0].get_text())


def _missing(x: Any) -> bool:
    import math

    return x is None or (isinstance(x, float) and math.isnan(x))


def _whole_counts(ax: Any, axis: str = "y") -> None:
    from matplotlib.ticker import MaxNLocator

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_locator(MaxNLocator(integer=True))


def trend_figure(trend: pd.DataFrame, *, title: str = "中差评率趋势（按周）",
                 empty: str = "所选各周都没有评价，暂无趋势图") -> Figure:
    """A line of the weekly 中差评率 (%) with the count on each point; ``trend`` has week, negative, rate
    (and ``reviews`` when known). A week without reviews has no point (it is labelled 无评价, not 0 %);
    when no week has a rate the chart is :func:`message_figure` with ``empty``."""
    weeks = [str(w) for w in trend["week"]]
    rates = [None if _missing(r) else float(r) * 100 for r in trend["rate"]]
    if "reviews" in trend:
        rates = [None if _missing(n) or int(n) == 0 else r for r, n in zip(rates, trend["reviews"], strict=True)]
    if all(r is None for r in rates):
        return message_figure(f"{title}：{empty}")
    fig, ax = _figure()
    xs = list(range(len(weeks)))
    ax.plot(xs, [float("nan") if r is None else r for r in rates], marker="o", color="#c0392b")
    top = max([r for r in rates if r is not None] + [1.0]) * 1.25
    for x, y, n in zip(xs, rates, trend["negative"], strict=True):
        if y is None:
            ax.annotate("无评价", (x, 0), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8,
                        color="#90a4ae")
        else:
            ax.annotate(f"{int(n)} 条", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.set_xticks(xs)
    ax.set_xticklabels(weeks)
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylabel("中差评率（%）")
    ax.set_title(title)
    ax.set_ylim(bottom=0, top=top)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def bar_figure(labels: list[str], values: list[float], *, title: str, unit: str = "", horizontal: bool = True,
               max_label: int = 18, empty: str = NO_DATA_ZH) -> Figure:
    """Bars for a breakdown (category mix, cost by kind …); long labels are shortened with ….

    No labels, or every value 0 or missing: :func:`message_figure` 「``title``：``empty``」 instead of
    bars. Non-negative values get an axis from 0 (whole numbers when every value is an integer).
    """
    values = [0 if _missing(v) else v for v in values]
    if not labels or not any(values):
        return message_figure(f"{title}：{empty}")
    short = [(s if len(s) <= max_label else s[: max_label - 1] + "…") for s in (str(x) for x in labels)]
    fig, ax = _figure(height=max(2.2, 0.42 * len(short) + 1.0) if horizontal else 3.0)
    whole = all(float(v).is_integer() for v in values)
    if horizontal:
        ax.barh(short[::-1], list(values)[::-1], color="#2e86c1")
        ax.set_xlabel(unit)
        if min(values) >= 0:
            ax.set_xlim(left=0)
        if whole:
            _whole_counts(ax, "x")
    else:
        ax.bar(short, list(values), color="#2e86c1")
        ax.set_ylabel(unit)
        if min(values) >= 0:
            ax.set_ylim(bottom=0)
        if whole:
            _whole_counts(ax, "y")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (for ``IPython.display.Image`` or a file)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
