"""What the network sees and the ten probabilities, as one piece of plain HTML and CSS.

This is redrawn after every stroke, so it must cost nothing: an Altair
chart took 70-180 ms of each rerun to build and validate its Vega-Lite spec,
and more in the browser to render it; ten styled <div>s take well under a
millisecond and show at once. Digits 0-9 are always on the axis, the scale
is fixed at 0-100%, and the predicted digit's bar is in colour.

The 28×28 image the network was given goes in the same element, inline
(a PNG of a few hundred bytes, enlarged by the browser pixel for pixel):
as an `st.image` it cost the server a media file, a JPEG and two layout
columns per stroke, and the browser a request and a layout of its own.
"""

from __future__ import annotations

import base64
from html import escape

from ui.theme import HIGHLIGHT, MUTED

READING_STYLE = """
<style>
.probability-bars { font-family: "Source Sans", sans-serif; color: #1f2933; margin: 0.25rem 0 0.5rem 0; }
.probability-bars .plot { display: flex; gap: 0.45rem; height: 170px; margin-top: 1.2rem;
  border-bottom: 1px solid __MUTED__; padding-left: 2.4rem; position: relative; }
.probability-bars .gridline { position: absolute; left: 2.4rem; right: 0; border-top: 1px dashed #dde3ea; }
.probability-bars .tick { position: absolute; left: 0; font-size: 0.75rem; color: #616e7c;
  transform: translateY(-50%); }
.probability-bars .column { flex: 1; height: 100%; position: relative; z-index: 1; }
.probability-bars .value { position: absolute; left: -0.3rem; right: -0.3rem; text-align: center;
  font-size: 0.75rem; color: #3e4c59; }
.probability-bars .bar { position: absolute; left: 0; right: 0; bottom: 0; border-radius: 3px 3px 0 0;
  min-height: 1px; }
.probability-bars .digits { display: flex; gap: 0.45rem; padding-left: 2.4rem; }
.probability-bars .digits span { flex: 1; text-align: center; font-size: 1rem; }
.probability-bars .digits .best { font-weight: 700; color: __HIGHLIGHT__; }
.reading { display: flex; gap: 1.5rem; align-items: flex-end; }
.reading figure { margin: 0 0 0.5rem 0; text-align: center; font-family: "Source Sans", sans-serif;
  font-size: 0.875rem; color: #616e7c; }
.reading figure img { width: 112px; height: 112px; image-rendering: pixelated; display: block; }
.reading .probability-bars { flex: 1; }
</style>
""".replace("__HIGHLIGHT__", HIGHLIGHT).replace("__MUTED__", MUTED)


def probability_bars(probabilities, predicted: int) -> str:
    """HTML for ten bars, 0-9, heights on a fixed 0-100% scale, `predicted` highlighted."""
    values = [min(max(float(p), 0.0), 1.0) for p in probabilities]
    if len(values) != 10:
        raise ValueError(f"expected 10 probabilities, got {len(values)}")
    summary = ", ".join(f"{d}: {p:.0%}" for d, p in enumerate(values))
    grid = "".join(
        f'<div class="gridline" style="bottom:{share}%"></div>'
        f'<span class="tick" style="bottom:{share}%;transform:translateY(50%)">{share}%</span>'
        for share in (0, 25, 50, 75, 100)
    )
    columns = "".join(
        f'<div class="column"><span class="value" style="bottom:calc({p * 100:.1f}% + 2px)">{p:.0%}</span>'
        f'<div class="bar" style="height:{p * 100:.1f}%;background:{HIGHLIGHT if d == predicted else MUTED}">'
        f"</div></div>"
        for d, p in enumerate(values)
    )
    digits = "".join(f'<span class="{"best" if d == predicted else ""}">{d}</span>' for d in range(10))
    return (
        f'<div class="probability-bars" role="img" aria-label="{escape("Probabilities " + summary)}">'
        f'<div class="plot">{grid}{columns}</div><div class="digits">{digits}</div></div>'
    )


def reading_panel(probabilities, predicted: int, seen_png: bytes) -> str:
    """The network's input (`seen_png`, a small PNG) beside the probability bars, in one element.

    Styled by `READING_STYLE`, which the page adds once, outside the part a stroke redraws.
    """
    source = "data:image/png;base64," + base64.b64encode(seen_png).decode("ascii")
    return (
        f'<div class="reading"><figure><img src="{source}" alt="The 28×28 image the network reads">'
        f"<figcaption>What the model sees</figcaption></figure>{probability_bars(probabilities, predicted)}</div>"
    )
