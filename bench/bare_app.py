"""The reference page for the browser benchmarks: the same canvas and one st.metric, nothing else.

Whatever the real page costs beyond this is what our own code, charts and
images add to each stroke and to start-up.
"""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

canvas = st_canvas(
    stroke_width=18,
    stroke_color="#000000",
    background_color="",
    width=280,
    height=280,
    drawing_mode="freedraw",
    return_image_data=True,
    key="canvas",
)
strokes = len((canvas.json_data or {}).get("objects", []))
st.metric("Prediction", str(strokes))
