"""Research extras of training, apart from the core build → fit → evaluate → card path (`model.training.ann`).

What the shipped network and the benchmarks' judges were made with, and
what an operator may use to make their own default: real writers' digits
(`real`), digits redrawn in writing styles MNIST lacks (`styles`), a
convolutional network (`cnn`) and distillation from it (`distill`). The
page's own runs use none of them.
"""
