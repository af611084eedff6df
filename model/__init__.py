"""Everything about the MNIST network: data, preprocessing, building, training, evaluating, saving.

No Streamlit here: the app (app.py) and the command line (train.py) both call these modules.
Importing the package is cheap; TensorFlow loads only with model.network / model.training.
"""
