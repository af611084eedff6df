"""The page's colours, in one place (`.streamlit/config.toml` repeats the primary one; a test keeps them equal)."""

HIGHLIGHT = "#e4572e"  # the theme's primary colour: the predicted digit, the validation curve
MUTED = "#9aa5b1"
SERIES = {"training": "#1f77b4", "validation": HIGHLIGHT}
