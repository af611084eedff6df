"""The page on a phone: the canvas, the answer and the ten bars on one screen, the controls under the thumb.

On a narrow screen (a phone held upright, from 360 px wide) Streamlit
stacks the page's columns. The same elements are laid out again, by CSS
alone, so that nothing of the wide page changes:

- the title and the introduction are short, and the space above them small;
- the reading (the canvas, the prediction, the bars and the preview) comes
  right after them, tighter, the bars lower;
- the brush and "Look closer" come after the reading, where a thumb holding
  the phone reaches;
- on a device without hover (a touch screen), whose canvas toolbar (undo,
  redo, clear) shows only on hover, a Clear button of the page's own stands
  beside the brush (`CLEAR_KEY`), and the introduction says "tap", not
  "hover". The canvas renders in a shadow root: its own toolbar is out of
  this CSS's reach.
"""

from __future__ import annotations

NARROW = "(max-width: 640px)"  # Streamlit stacks columns below this width
CLEAR_KEY = "clear"  # the page's own Clear button, for screens without hover

INTRODUCTION = (
    '<span class="wide-words">Draw a digit: a neural network trained on MNIST reads it as you draw. Train your own '
    "network in the sidebar and compare. </span>"
    '<span class="narrow-words">Draw a digit: a neural network reads it. </span>'
    '<span class="hover-words">Undo, redo and clear: hover over the box, top right.</span>'
    '<span class="touch-words">Clear the box with the button under the drawing.</span>'
)

PAGE_LAYOUT = f"""
<style>
.narrow-words, .touch-words {{ display: none; }}
@media (hover: hover) {{
  [data-testid="stElementContainer"]:has(.st-key-{CLEAR_KEY}), .st-key-{CLEAR_KEY} {{ display: none; }}
}}
@media (hover: none) {{
  .hover-words {{ display: none; }}
  .touch-words {{ display: inline; }}
}}
@media {NARROW} {{
  /* The answer grows under the canvas: the browser must not scroll to keep what was in view in place. */
  [data-testid="stMain"] {{ overflow-anchor: none; }}
  [data-testid="stMainBlockContainer"] {{ padding: 3.25rem 0.9rem 2rem 0.9rem; }}
  [data-testid="stMainBlockContainer"] h1 {{ font-size: 1.55rem; padding: 0 0 0.1rem 0; }}
  .wide-words {{ display: none; }}
  .narrow-words {{ display: inline; }}
  [data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] {{ gap: 0.6rem; }}
  [data-testid="stLayoutWrapper"]:has(> .st-key-controls), .st-key-controls {{ order: 2; }}
  .st-key-controls [data-testid="stHorizontalBlock"] {{ gap: 0.4rem; }}
  .st-key-reading [data-testid="stHorizontalBlock"] {{ gap: 0.35rem; }}
  .st-key-reading [data-testid="stMetric"] {{ padding: 0; }}
  .st-key-reading [data-testid="stMetricValue"] {{ font-size: 1.9rem; line-height: 1.2; }}
  .st-key-reading [data-testid="stMetricLabel"] {{ min-height: 0; }}
  .probability-bars .plot {{ height: 105px; margin-top: 0.9rem; }}
  .probability-bars .value {{ font-size: 0.6rem; }}
  .reading {{ gap: 0.75rem; }}
  .reading figure img {{ width: 72px; height: 72px; }}
  .reading figure {{ font-size: 0.75rem; }}
  [data-testid="stButtonGroup"] > div {{ flex-wrap: wrap; }}
}}
</style>
"""
