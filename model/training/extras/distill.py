"""Distillation: the Dense network learns a stronger teacher's answers as well as the labels.

A convolutional network (`model.training.extras.cnn`) reads drawings better than
any Dense network of the page's size. Its probabilities carry more than its
answer: that this 7 looks a little like a 1, that 4 a little like a 9. A
Dense network trained to match them, softened by a temperature so that the
small ones count, learns some of what the teacher knows (Hinton, Vinyals and
Dean, 2015), and ships as small and as fast as before.

The teacher reads each training image once, undistorted, before training
starts (on two CPU cores, a teacher pass on every distorted batch would
cost several times the Dense network's own training); the distortions of
`augment` keep the label, and are mild enough that the teacher's answer for
the clean image stands for the distorted one too. The loss is

    (1 - alpha) · cross-entropy(label) + alpha · T² · KL(teacher_T ‖ student_T)

where `_T` is a distribution softened by temperature T; T² keeps the two
parts' gradients on one scale whatever T is. Labels travel to the loss as
(N, 11) rows: the label, then the teacher's ten softened probabilities.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # Keras is imported where it is used: train.py checks a `Distillation` before TensorFlow loads
    import keras

TEACHER_BATCH = 1024


@dataclass(frozen=True)
class Distillation:
    temperature: float = 4.0
    alpha: float = 0.7  # the share of the loss given to the teacher's answers

    def problems(self) -> list[str]:
        found = []
        if not 1.0 <= self.temperature <= 20.0:
            found.append(f"The distillation temperature must be 1 to 20 (got {self.temperature}).")
        if not 0.0 < self.alpha <= 1.0:
            found.append(f"The teacher's share of the loss must be above 0 and at most 1 (got {self.alpha}).")
        return found


def load_teacher(path: str | os.PathLike) -> keras.Model:
    """A teacher network saved as `.keras` (Keras's safe mode: no code from the file runs)."""
    import keras

    model = keras.models.load_model(path, compile=False, safe_mode=True)
    if tuple(model.input_shape[1:]) != (28, 28) or tuple(model.output_shape[1:]) != (10,):
        raise ValueError(f"{path} does not read (28, 28) images into 10 probabilities.")
    return model


def soften(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities as they would be with every logit divided by `temperature`."""
    logits = np.log(np.clip(probabilities.astype(np.float64), 1e-30, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    soft = np.exp(logits)
    return (soft / soft.sum(axis=1, keepdims=True)).astype(np.float32)


def with_teacher(
    teacher: keras.Model | list[keras.Model], images: np.ndarray, labels: np.ndarray, temperature: float
) -> np.ndarray:
    """(N, 11) float32 targets: each image's label, then the teacher's softened probabilities for it.

    A list of teachers is an ensemble: their probabilities are averaged (an
    ensemble distilled into one network).
    """
    teachers = teacher if isinstance(teacher, list | tuple) else [teacher]
    probabilities = np.mean(
        [
            np.concatenate(
                [
                    model(images[i : i + TEACHER_BATCH].astype(np.float32) / 255.0, training=False).numpy()
                    for i in range(0, len(images), TEACHER_BATCH)
                ]
            )
            for model in teachers
        ],
        axis=0,
    )
    return np.concatenate([labels.astype(np.float32)[:, None], soften(probabilities, temperature)], axis=1)


def distillation_loss(distillation: Distillation):
    """The loss above, for a student whose outputs are probabilities (a softmax layer)."""
    import keras

    t, alpha = distillation.temperature, distillation.alpha

    def loss(targets, probabilities):
        labels = keras.ops.cast(targets[:, 0], "int32")
        teacher = targets[:, 1:]
        log_p = keras.ops.log(keras.ops.clip(probabilities, 1e-7, 1.0))
        hard = keras.losses.sparse_categorical_crossentropy(labels, probabilities)
        log_student_t = keras.ops.log_softmax(log_p / t, axis=-1)
        kl = keras.ops.sum(teacher * (keras.ops.log(keras.ops.clip(teacher, 1e-12, 1.0)) - log_student_t), axis=-1)
        return (1.0 - alpha) * hard + alpha * t * t * kl

    return loss


def label_accuracy():
    """Accuracy against the label in column 0 of the (N, 11) targets, named as the usual metric."""
    import keras

    def accuracy(targets, probabilities):
        labels = keras.ops.cast(targets[:, 0], "int32")
        return keras.ops.cast(keras.ops.argmax(probabilities, axis=-1) == labels, "float32")

    return keras.metrics.MeanMetricWrapper(accuracy, name="accuracy")


@dataclass(frozen=True)
class Teacher:
    """Networks to distil from, their answers averaged: `.keras` files, and how (`Distillation`)."""

    paths: tuple[str, ...]
    distillation: Distillation

    def models(self) -> list[keras.Model]:
        return [load_teacher(path) for path in self.paths]

    def info(self) -> dict:
        from model.store.data import file_sha256

        return {
            "paths": list(self.paths),
            "sha256": [file_sha256(path) for path in self.paths],
            "temperature": self.distillation.temperature,
            "alpha": self.distillation.alpha,
        }

    def in_words(self, info: dict) -> str:
        """What was distilled, for the card's notes; `info` is `self.info()` (its files hashed once)."""
        named = ", ".join(f"{path} (sha256 {sha[:12]}…)" for path, sha in zip(info["paths"], info["sha256"]))
        kind = "the convolutional network" if len(self.paths) == 1 else "the average of the convolutional networks"
        return (
            f"distilled from {kind} {named} (temperature {self.distillation.temperature:g}, "
            f"{self.distillation.alpha:.0%} of the loss on its answers)"
        )
