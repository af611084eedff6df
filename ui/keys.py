"""Every `st.session_state` key the page uses, in one place: what a visitor's session holds.

A session holds only that visitor's things (see ui/session.py); these names
are the whole list, so a reader can see it at a glance and no two parts of
the page use one key for two things.
"""

# Widgets (their values live under their keys)
CANVAS = "canvas"  # the drawing canvas
CLEARED = "cleared"  # how many times the page's own Clear emptied the canvas (its key changes with it)
BRUSH = "brush"  # the brush-width slider
EXPLORE = "explore"  # which "Look closer" panel is open
CORRECT = "correct"  # the digit a visitor says their drawing is
CONFUSION_PICK = "confusion_pick"  # the cell picked in the confusion matrix
ACTIVE = "active"  # the name of the network that reads the drawings

# The visitor and what they may do
VISITOR_ID = "visitor_id"  # random, per session: their place in the training queue
OWNER_PASSWORD_OK = "owner_password_ok"  # the admin password was given in this session
COLLECTION_ERROR = "collection_error"  # why their samples could not be opened, if so

# Networks
NETWORKS = "networks"  # name → ui.session.Network, bounded (ui.session.MAX_NETWORKS)
MADE = "made"  # how many networks this session has made, for their names
LOST_NETWORKS = "lost_networks"  # how many networks an earlier session of this page made (now gone), to say once
DROPPED_NETWORKS = "dropped_networks"  # names just dropped to stay in bounds, to say so once
MODEL_ERROR = "model_error"  # why the default network could not be read (for everyone)
MODEL_ERROR_DETAIL = "model_error_detail"  # the same in detail (shown to the owner only)

PAGE_REFUSED = "page_refused"  # why this page was not opened (too many new pages from its address), or None

# Jobs on the training cluster
JOB = "job"  # this visitor's model.jobs.service.Job, at most one at a time
JOB_REFUSED = "job_refused"  # why the queue refused a job, to say once
ASKED = "asked"  # when the visitor pressed Train or Fine-tune (time.time()): their place in line
COLLECTED = "collected"  # the finished job whose result was already taken
SAVE_MESSAGE = "save_message"  # ("success" | "error", sentence) after a save or a rollback

# Samples
SAMPLE_TOTAL = "sample_total"  # how many samples the visitor has, counted once per full run
SAVED_SAMPLE = "saved_sample"  # (label, the drawing's bytes, note) of the last correction saved
IMPORTED = "imported"  # the file id of the last import, so a rerun does not import it twice
SHARING = "sharing"  # the "Share my samples with the owner" toggle

# The owner's view of shared handwriting
SHARED_FILTER = "shared_filter"  # which shared samples the gallery shows
SHARED_PAGE = "shared_page"  # which page of them
