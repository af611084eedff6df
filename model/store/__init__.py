"""Files: MNIST, model cards, the default network, visitors' samples; every write atomic. No TensorFlow."""
