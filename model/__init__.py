"""Everything about the MNIST network, grouped by what each part may import.

- `model.reading`: what the page runs on every stroke: the drawing turned
  into MNIST's format, the network run in NumPy, its scores and its
  explanations. NumPy and Pillow only, never TensorFlow.
- `model.store`: what is kept: MNIST and model cards as files; visitors'
  samples, limits and the owner's defaults in a database (SQLAlchemy over
  SQLite or PostgreSQL). No TensorFlow either.
- `model.training`: TensorFlow and Keras: building, training, distorting,
  fine-tuning. Imported only where a network is trained (a Dask worker,
  `train.py`), never in the web server.
- `model.jobs`: training as Dask tasks: the cluster, the shared queue, and
  the functions that run on a worker (which import `model.training` there).
- `model.config` and `model.progress`: the plain types all of them share.

No Streamlit anywhere here: the app (app.py) and the command line
(train.py) both call these modules. The rules are checked in CI by
import-linter (`[tool.importlinter]` in pyproject.toml).
"""
