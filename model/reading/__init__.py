"""The reading path: drawing → MNIST-style image → network in NumPy → probabilities. No TensorFlow."""
