"""What is kept: MNIST and model cards as files; visitors' samples, limits and the owner's defaults in a database
(SQLite or PostgreSQL, through SQLAlchemy). No TensorFlow."""
