"""The reference page for the browser and load benchmarks: the same canvas in a fragment and one st.metric.

Whatever the real page costs beyond this is what our own code, charts and
images add to each stroke and to start-up. Like the real page, a stroke
reruns only the fragment that holds the canvas.
"""

import streamlit as st
from streamlit_drawable_canvas import st_canvas


@st.fragment
def drawing() -> None:
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


drawing()
