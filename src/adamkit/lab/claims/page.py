"""The claims page: a table of contents, then per claim its sentence, experiment, plot and verdict.

One self-contained HTML file (plots inlined as ``data:`` URIs, no script), like the comparison
report, so it opens, mails and archives as it is.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from ..output import CLAIM_PLOT_PREFIX
from ..report import _cell, _data_uri
from .common import Verdict

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1150px; color: #222; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #eef2f7; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: 1em 0; }
blockquote { border-left: 4px solid #bbb; margin: 0.5em 0; padding: 0.2em 1em; color: #444; }
.verdict { font-weight: bold; padding: 0.1em 0.5em; border-radius: 0.3em; }
.holds { background: #d9f2d9; } .fails { background: #f7d7d7; } .depends { background: #fdf1c7; }
section { border-top: 1px solid #ddd; margin-top: 2em; }
.note { background: #f3f3f3; padding: 0.3em 0.6em; }
"""


def _numbers_table(values: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{_cell(v)}</td></tr>" for k, v in values.items())
    return f"<table>{rows}</table>"


def render(
    done: Sequence[tuple[ModuleType, dict[str, Any], Verdict]], folder: Path, settings: dict[str, Any]
) -> str:
    """The page for the experiments run, in order; their plots are read from ``folder``.

    An experiment's ``measured["notes"]`` (sentences, such as a data set that was not found)
    are shown under its description.
    """
    title = "Adam's claims, measured"
    toc = "".join(
        f'<li><a href="#{e.KEY}">{html.escape(e.TITLE)}</a>: '
        f'<span class="verdict {v.kind}">{html.escape(v.outcome)}</span></li>'
        for e, _, v in done
    )
    sections = []
    for number, (experiment, measured, found) in enumerate(done, 1):
        plot = folder / f"{CLAIM_PLOT_PREFIX}{experiment.KEY}.png"
        sections.append(
            f'<section id="{experiment.KEY}"><h2>{number}. {html.escape(experiment.TITLE)}</h2>'
            f"<blockquote>{html.escape(experiment.SENTENCE)}<br><small>{html.escape(experiment.SOURCE)}</small>"
            f"</blockquote><h3>Experiment</h3><p>{html.escape(experiment.EXPERIMENT)}</p>"
            + "".join(f'<p class="note">{html.escape(note)}</p>' for note in measured.get("notes", []))
            + f'<figure><img src="{_data_uri(plot)}" alt="{html.escape(plot.stem)}"></figure>'
            f'<h3>Verdict: <span class="verdict {found.kind}">{html.escape(found.outcome)}</span></h3>'
            f"<p>{html.escape(found.reason)}</p>"
            f"<h4>Measured</h4>{_numbers_table(found.numbers)}"
            f"<h4>Thresholds</h4>{_numbers_table(experiment.THRESHOLDS)}"
            f"<p><small>{measured.get('seconds', 0.0):.1f} s</small></p></section>"
        )
    setting_rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{_cell(v)}</td></tr>" for k, v in settings.items()
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{STYLE}</style></head><body>"
        f"<h1>{title}</h1><table>{setting_rows}</table>"
        "<p>Each verdict is computed from the numbers measured below against the thresholds written "
        "next to the experiment (<code>adamkit.lab.claims</code>); it holds for this run, at this scale.</p>"
        f'<h2>Contents</h2><ol id="contents">{toc}</ol>' + "".join(sections) + "</body></html>\n"
    )
