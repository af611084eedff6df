"""What the page keeps: the shared resources (once per server process) and each visitor's networks.

The default network and MNIST are loaded once per process and shared by all
visitors (`st.cache_resource`); everything a visitor changes (the networks
they trained, which one is active, their training run) lives in their own
`st.session_state`, so one visitor's training never changes another's page.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from model.card import architecture, read_card
from model.data import ENV_VAR, MnistUnavailable, file_sha256, load_mnist, mnist_source
from model.inference import DenseNet, ModelFileError

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "model" / "mnist_ann.keras"
MAX_NETWORKS = 8  # per visitor: each is a few MB of weights in the server's memory


def default_model_path() -> Path:
    """The default network's file; MODEL_PATH moves it (the tests use a copy, so that
    "Save as default" in a test never touches the shipped file)."""
    return Path(os.environ.get("MODEL_PATH") or SHIPPED_MODEL)


@dataclass(frozen=True)
class Network:
    """A network this visitor can draw against: its weights and its card."""

    name: str
    net: DenseNet
    card: dict

    @property
    def accuracy(self) -> float | None:
        return self.card.get("test", {}).get("accuracy")

    @property
    def label(self) -> str:
        accuracy = f" · {self.accuracy:.2%}" if self.accuracy is not None else ""
        augmented = " · augmented" if self.card.get("hyperparameters", {}).get("augment") else ""
        return f"{self.name}: {architecture(self.net.hidden)}{accuracy}{augmented}"


@st.cache_resource(show_spinner="Loading the network …")
def default_network(path: str) -> Network:
    """The shipped (or last saved) default, read once per server process."""
    return Network("Default", DenseNet.load(path), read_card(path) or {})


@st.cache_resource(show_spinner="Loading MNIST …")
def training_data(source: str | None) -> tuple[tuple, dict]:
    """MNIST from `source` (None: Keras's download) and where it came from, once per process."""
    mnist = load_mnist(source)
    info = {"source": source or "keras.datasets.mnist", "sha256": file_sha256(source) if source else None}
    return mnist, info


def mnist() -> tuple[tuple, dict]:
    """MNIST for this page (raises `MnistUnavailable` with the fix in its message)."""
    source = mnist_source()
    return training_data(str(source) if source else None)


def mnist_for_training() -> tuple[tuple, dict]:
    """MNIST for a training run; if it cannot be loaded, remember why (the sidebar says so) and rerun."""
    try:
        return mnist()
    except MnistUnavailable as error:
        st.session_state.mnist_error = str(error)
        st.rerun()


def mnist_problem() -> str | None:
    """Why MNIST cannot be used here, found without loading anything; None if it may."""
    source = mnist_source()
    if source is not None and not source.is_file():
        return f"Training needs MNIST, but {ENV_VAR} points to {source}, which does not exist: fix the path."
    return st.session_state.get("mnist_error")


def session_networks() -> dict[str, Network]:
    if "networks" not in st.session_state:
        st.session_state.networks = {}
        st.session_state.made = 0
        try:
            default = default_network(str(default_model_path()))
            st.session_state.networks[default.name] = default
            st.session_state.active = default.name
        except ModelFileError as error:
            st.session_state.model_error = str(error)
            st.session_state.active = None
    return st.session_state.networks


def add_network(net: DenseNet, card: dict, kind: str = "Trained") -> str:
    """Add a network to this visitor's list, make it active, and return its name."""
    networks = session_networks()
    st.session_state.made += 1
    name = f"{kind} #{st.session_state.made}"
    networks[name] = Network(name, net, card)
    while len(networks) > MAX_NETWORKS:  # forget the oldest one made here, never the default
        del networks[next(n for n in networks if n != "Default")]
    st.session_state.active = name
    return name


def active_network() -> Network | None:
    return session_networks().get(st.session_state.get("active"))
