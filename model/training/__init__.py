"""Training with TensorFlow and Keras: build, distort, redraw, train, fine-tune. Never imported by the page."""
