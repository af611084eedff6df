"""Teach the network your handwriting: correct a reading, keep the sample, fine-tune on them.

Each visitor's samples are their own collection (see `ui.access`): saved,
reviewed, exported, deleted and fine-tuned on by them alone. Saves go
through `model.store.samples.SampleStore`: one database transaction each,
within the collection's quota, nothing a visitor sent ever becoming SQL.
The rate limits are counted in the database too, per collection, so every
replica and every tab of a visitor counts the same saves. When the database
cannot be reached, the page says so in a sentence and drawing goes on.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from model.settings import IMPORTS_PER_ADDRESS, IMPORTS_PER_MINUTE, SAVES_PER_ADDRESS, SAVES_PER_MINUTE
from model.store.db import StoreUnavailable
from model.store.network import Network
from model.store.ratelimit import RateLimit
from model.store.samples import MAX_STROKES_BYTES, SampleError, SampleStore, strokes_size
from model.store.sharing import shared_since
from ui import keys
from ui.access import TOKEN_PARAM, client_address, has_private_link, over_limit, sample_store, signed_in_email
from ui.pictures import enlarge
from ui.session import job_running, mnist_problem

REVIEW = 30  # samples shown for review at once, newest first
SAVES = RateLimit(SAVES_PER_MINUTE, 60)  # per collection: a person correcting readings makes a few
IMPORTS = RateLimit(IMPORTS_PER_MINUTE, 60)
SAVES_BY_ADDRESS = RateLimit(SAVES_PER_ADDRESS, 60)  # a class behind one address saves many
IMPORTS_BY_ADDRESS = RateLimit(IMPORTS_PER_ADDRESS, 3600)
LIMITS = {"saves": (SAVES, SAVES_BY_ADDRESS), "imports": (IMPORTS, IMPORTS_BY_ADDRESS)}
NOT_SAVED = "Could not save the sample: {error} Nothing was saved; drawing goes on, try again later."


def correction(digit_image: np.ndarray, strokes: dict | None) -> None:
    """ "Wrong? This is a …": choosing a digit saves the drawing with that label."""
    st.pills(
        "Wrong? This is a …",
        list(range(10)),
        key=keys.CORRECT,
        on_change=save_correction,
        args=(digit_image, strokes),
        help="Saves this drawing with the right label to your samples (see Teach it your handwriting, below).",
    )
    saved = st.session_state.get(keys.SAVED_SAMPLE)  # (label, the drawing it was given to, note)
    total = sample_total()
    if saved and saved[1] == digit_image.tobytes():
        st.caption(f"Saved as a {saved[0]}{saved[2]}. You have {counted(total, 'sample')}.")
    elif total:
        st.caption(f"You have {counted(total, 'sample')}.")


def wait_for(action: str, samples: SampleStore) -> str | None:
    """Count one more `action` ("saves", "imports") for this collection and this address; past either limit, a
    sentence on how long to wait (and nothing counted of this one)."""
    per_collection, per_address = LIMITS[action]
    return over_limit(per_collection, f"{action}:{samples.key}") or over_limit(
        per_address, f"{action}-by-address:{client_address()}"
    )


def counted(n: int, noun: str) -> str:
    """ "1 sample", "3 samples" """
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def sample_total() -> int:
    """How many samples this visitor has: counted once per full run of the page, not at every stroke.

    A stroke reruns only the drawing's fragment; the count changes when this
    visitor saves, imports or deletes (each forgets it) or, from another tab,
    by the next full run (`forget_sample_total`).
    """
    if keys.SAMPLE_TOTAL not in st.session_state:
        try:
            samples = sample_store()
            st.session_state[keys.SAMPLE_TOTAL] = samples.used()[0] if samples is not None else 0
        except StoreUnavailable:
            # Not asked again at every stroke (a database that does not answer would hold each one up):
            # counted again at the next full run; the teach panel says why.
            st.session_state[keys.SAMPLE_TOTAL] = 0
    return st.session_state[keys.SAMPLE_TOTAL]


def forget_sample_total() -> None:
    st.session_state.pop(keys.SAMPLE_TOTAL, None)


def save_correction(digit_image: np.ndarray, strokes: dict | None) -> None:
    label = st.session_state.get(keys.CORRECT)
    if label is None:
        return
    # Unselect at once: the row is for the next drawing, and a selection left
    # standing would be sent again with every later rerun.
    st.session_state[keys.CORRECT] = None
    st.session_state[keys.SAVED_SAMPLE] = None
    forget_sample_total()
    note = ""
    if strokes is not None and (not isinstance(strokes, dict) or strokes_size(strokes) > MAX_STROKES_BYTES):
        strokes, note = None, " (the drawing alone: its strokes were too long to keep)"
    try:
        samples = sample_store(create=True)
        wait = wait_for("saves", samples)
        if wait:
            st.toast(f"That is many samples at once: {wait}")
            return
        samples.add(digit_image, label, strokes)
        st.session_state[keys.SAVED_SAMPLE] = (label, digit_image.tobytes(), note)
    except SampleError as error:
        st.toast(f"Could not save the sample: {error}")
    except StoreUnavailable as error:
        st.toast(NOT_SAVED.format(error=error))


def teach_panel(network: Network) -> None:
    from ui.charts import counts_chart

    try:
        samples = sample_store()
        counts = samples.counts() if samples is not None else [0] * 10
    except StoreUnavailable as error:
        st.warning(f"Your samples cannot be read now: {error} Drawing works as before.")
        return
    st.markdown(
        f"**Your samples**: {sum(counts)} in all. Correct a reading above to add one; a fifth of them "
        "are kept aside to check what fine-tuning learnt."
    )
    st.caption(whose_samples(samples))
    if st.session_state.get(keys.COLLECTION_ERROR):
        st.warning(st.session_state[keys.COLLECTION_ERROR])
    st.altair_chart(counts_chart(counts), width="stretch")
    if samples is not None:
        review(samples)
    exchange(samples)
    sharing_controls(samples)
    fine_tune_controls(network, samples)
    report = network.card.fine_tune
    if report:
        show_report(report)


def whose_samples(samples: SampleStore | None) -> str:
    email = signed_in_email()
    if email:
        return f"They belong to your account ({email}); nobody else sees them."
    if has_private_link():
        return (
            "They are private to this page's address: bookmark it to come back to them. "
            "Anyone with the address can see them, so share it with nobody."
        )
    if st.query_params.get(TOKEN_PARAM) is None and samples is not None:
        return "This is the collection of the machine the app runs on."
    return "Nobody else sees them: your first sample gives this page a private address to bookmark."


def review(samples: SampleStore) -> None:
    try:
        newest = samples.newest(REVIEW)
    except StoreUnavailable as error:
        st.warning(f"Your samples cannot be shown now: {error}")
        return
    if not newest:
        return
    with st.expander(f"Review the newest {counted(len(newest), 'sample')}"):
        columns = st.columns(6)
        for n, sample in enumerate(newest):
            with columns[n % 6]:
                st.image(enlarge(sample.image, 2), caption=f"{sample.label}", width=56)
                st.button("Delete", key=f"delete_{sample.id}", on_click=delete_sample, args=(sample.id,))


def delete_sample(sample_id: str) -> None:
    """Deletes from this visitor's own collection only, whatever id a message names."""
    forget_sample_total()
    try:
        samples = sample_store()
        if samples is not None:
            samples.delete(sample_id)
    except (SampleError, StoreUnavailable) as error:
        st.toast(f"Could not delete the sample: {error}")


def exchange(samples: SampleStore | None) -> None:
    left, right = st.columns(2)
    with left:
        st.download_button(
            "Export all samples",
            data=samples.export if samples else b"",
            file_name="my_digits.npz",
            mime="application/octet-stream",
            disabled=samples is None or not sample_total(),
            help="One .npz file with every sample, to keep or to import elsewhere.",
        )
    largest = upload_limit_mb()
    with right:
        upload = st.file_uploader(
            "Import samples",
            type=["npz"],
            max_upload_size=largest,
            help=f"A file exported by this app (at most {largest} MB).",
        )
    if upload is not None and st.session_state.get(keys.IMPORTED) != upload.file_id:
        st.session_state[keys.IMPORTED] = upload.file_id
        if upload.size > largest << 20:
            st.error(f"That file is larger than {largest} MB; an export of samples is far smaller.")
            return
        forget_sample_total()
        try:
            target = sample_store(create=True)
            wait = wait_for("imports", target)
            if wait:
                st.error(f"That is many imports at once: {wait}")
                return
            added = target.import_file(upload.getvalue())
            st.success(f"Imported {added} new samples.")
        except SampleError as error:
            st.error(f"Nothing was imported: {error}")
        except StoreUnavailable as error:
            st.error(f"Nothing was imported: {error} Drawing goes on; try again later.")


def upload_limit_mb() -> int:
    """The largest upload the server takes (`server.maxUploadSize` in .streamlit/config.toml), in MB."""
    return int(st.get_option("server.maxUploadSize"))


def sharing_controls(samples: SampleStore | None) -> None:
    """Share this collection with the owner, or withdraw it: off until the visitor turns it on."""
    from model.store.sharing import CONSENT

    try:
        since = shared_since(samples) if samples is not None else None
    except StoreUnavailable as error:
        st.warning(f"Whether your samples are shared cannot be read now: {error}")
        return
    st.toggle(
        "Share my samples with the owner",
        value=since is not None,
        key=keys.SHARING,
        on_change=change_sharing,
        help="Helps the owner teach the network everyone gets the handwriting of the people who use it.",
    )
    st.caption(f"{CONSENT} You can withdraw at any time.")
    if since is not None:
        st.info(
            f"Shared since {since[:10]}: your new samples are shared too. Withdrawing leaves all of them out of "
            "every later retrain; networks already trained keep what they learnt."
        )


def change_sharing() -> None:
    from model.store.sharing import share, withdraw

    forget_sample_total()
    try:
        if st.session_state.get(keys.SHARING):
            share(sample_store(create=True))
            st.toast("Your samples are shared with the owner, and your new ones will be too.")
        else:
            samples = sample_store()
            if samples is not None:
                withdraw(samples)
            st.toast("Withdrawn: your samples are left out of every later retrain.")
    except (SampleError, StoreUnavailable) as error:
        st.toast(f"Nothing changed: {error}")


def fine_tune_controls(network: Network, samples: SampleStore | None) -> None:
    from model.jobs.service import FineTuneSpec, Kind
    from model.store.holdout import is_held_out
    from ui.training import note_asked, submit

    try:
        trainable = sum(not is_held_out(e["id"]) for e in samples.entries()) if samples is not None else 0
    except StoreUnavailable:
        trainable = 0
    running = job_running()
    problem = mnist_problem()
    if problem:
        st.warning(problem)
    pressed = st.button(
        f"Fine-tune {network.name} on my digits",
        type="primary",
        on_click=note_asked,
        disabled=running or trainable == 0 or bool(problem),
        help="Continues training this network on MNIST mixed with your samples, then adds the "
        "result to your networks. Progress shows in the sidebar.",
    )
    if trainable == 0:
        st.caption("Save a few samples first (at least one beyond the held-out fifth).")
    if not pressed:
        return
    try:
        own = samples.arrays()
    except StoreUnavailable as error:
        st.warning(f"Your samples cannot be read now, so nothing was fine-tuned: {error}")
        return
    submit(Kind.FINE_TUNE, FineTuneSpec(network, own))
    st.rerun()  # the sidebar shows its place in the queue and its progress


def show_report(report: dict) -> None:
    st.markdown(
        f"**Fine-tuned from {report.get('from', 'the network')}** on {report['trained_on']} of your "
        f"samples in {report.get('seconds', 0):.0f} s:"
    )
    rows = []
    if report.get("held_out"):
        rows.append(["your held-out samples", report["held_out_before"], report["held_out_after"], report["held_out"]])
    rows.append(["MNIST test set", report["mnist_before"], report["mnist_after"], report["mnist_count"]])
    st.table(
        {
            "read right": [r[0] for r in rows],
            "before": [f"{r[1]:.1%}" for r in rows],
            "after": [f"{r[2]:.1%}" for r in rows],
            "digits": [r[3] for r in rows],
        }
    )
