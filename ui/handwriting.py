"""Teach the network your handwriting: correct a reading, keep the sample, fine-tune on them.

Samples go to one local folder (`SAMPLES_PATH`, default data/my_digits/)
through `model.samples.SampleStore`, which writes atomically and never turns
anything a visitor typed into a path.
"""

from __future__ import annotations


import numpy as np
import streamlit as st

from model.samples import SampleError, SampleStore
from ui.pictures import enlarge
from ui.session import Network, mnist_for_training, mnist_problem

REVIEW = 30  # samples shown for review at once, newest first


def store() -> SampleStore:
    return SampleStore()


def correction(digit_image: np.ndarray, strokes: dict | None) -> None:
    """"Wrong? This is a …": choosing a digit saves the drawing with that label."""
    st.pills("Wrong? This is a …", list(range(10)), key="correct", on_change=save_correction,
             args=(digit_image, strokes), help="Saves this drawing with the right label to your samples "
             "(see Teach it your handwriting, below).")
    saved = st.session_state.get("saved_sample")  # (label, the drawing it was given to)
    counts = store().counts()
    if saved and saved[1] == digit_image.tobytes():
        st.caption(f"Saved as a {saved[0]}. You have {sum(counts)} samples.")
    elif sum(counts):
        st.caption(f"You have {sum(counts)} samples.")


def save_correction(digit_image: np.ndarray, strokes: dict | None) -> None:
    label = st.session_state.get("correct")
    if label is None:
        return
    # Unselect at once: the row is for the next drawing, and a selection left
    # standing would be sent again with every later rerun.
    st.session_state.correct = None
    try:
        store().add(digit_image, label, strokes)
        st.session_state.saved_sample = (label, digit_image.tobytes())
    except (SampleError, OSError) as error:
        st.session_state.saved_sample = None
        st.toast(f"Could not save the sample: {error}")


def teach_panel(network: Network) -> None:
    from ui.charts import counts_chart

    samples = store()
    counts = samples.counts()
    st.markdown(f"**Your samples** in `{samples.folder}`: {sum(counts)} in all. Correct a reading above to add "
                "one; a fifth of them are kept aside to check what fine-tuning learnt.")
    if samples.damaged:
        st.warning(f"Skipped unreadable files (left in place): {', '.join(samples.damaged)}")
    st.altair_chart(counts_chart(counts), width="stretch")

    review(samples)
    exchange(samples)
    fine_tune_controls(network, samples)
    report = network.card.get("fine_tune")
    if report:
        show_report(report)


def review(samples: SampleStore) -> None:
    entries = samples.entries()[::-1][:REVIEW]
    if not entries:
        return
    with st.expander(f"Review the newest {len(entries)} samples"):
        columns = st.columns(6)
        for n, entry in enumerate(entries):
            with columns[n % 6]:
                st.image(enlarge(samples.load(entry["id"]).image, 2), caption=f"{entry['label']}", width=56)
                st.button("Delete", key=f"delete_{entry['id']}", on_click=samples.delete, args=(entry["id"],))


def exchange(samples: SampleStore) -> None:
    left, right = st.columns(2)
    with left:
        st.download_button("Export all samples", data=samples.export, file_name="my_digits.npz",
                           mime="application/octet-stream", disabled=not samples.entries(),
                           help="One .npz file with every sample, to keep or to import elsewhere.")
    with right:
        upload = st.file_uploader("Import samples", type=["npz"], max_upload_size=50,
                                  help="A file exported by this app.")
    if upload is not None and st.session_state.get("imported") != upload.file_id:
        st.session_state.imported = upload.file_id
        try:
            added = samples.import_file(upload.getvalue())
            st.success(f"Imported {added} new samples.")
        except SampleError as error:
            st.error(str(error))


def fine_tune_controls(network: Network, samples: SampleStore) -> None:
    from model.finetune import is_held_out
    from model.job import TrainingJob, fine_tune_network

    trainable = sum(not is_held_out(e["id"]) for e in samples.entries())
    job = st.session_state.get("job")
    running = job is not None and not job.finished
    problem = mnist_problem()
    if problem:
        st.warning(problem)
    pressed = st.button(f"Fine-tune {network.name} on my digits", type="primary",
                        disabled=running or trainable == 0 or bool(problem),
                        help="Continues training this network on MNIST mixed with your samples, then adds the "
                        "result to your networks. Progress shows in the sidebar.")
    if trainable == 0:
        st.caption("Save a few samples first (at least one beyond the held-out fifth).")
    if not pressed:
        return
    data, _ = mnist_for_training()
    args = (network.net, network.card, network.name, data, samples.arrays())
    st.session_state.job = TrainingJob(fine_tune_network, args, kind="fine-tune").start()
    st.rerun()


def show_report(report: dict) -> None:
    st.markdown(f"**Fine-tuned from {report.get('from', 'the network')}** on {report['trained_on']} of your "
                f"samples in {report.get('seconds', 0):.0f} s:")
    rows = []
    if report.get("held_out"):
        rows.append(["your held-out samples", report["held_out_before"], report["held_out_after"], report["held_out"]])
    rows.append(["MNIST test set", report["mnist_before"], report["mnist_after"], report["mnist_count"]])
    st.table({
        "read right": [r[0] for r in rows],
        "before": [f"{r[1]:.1%}" for r in rows],
        "after": [f"{r[2]:.1%}" for r in rows],
        "digits": [r[3] for r in rows],
    })
