"""The page's building blocks: widgets, panels, charts and who may do what; the ML stays in model/."""
