"""The owner's view of shared handwriting: who shared what, what is flagged, a gallery to review, the retrain.

Owner only (`ui.access.is_owner`), and checked again by every action.
Contributors are numbers; nothing here shows a visitor's link or account.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from model.settings import SHARED_PER_CONTRIBUTOR
from model.store.db import StoreUnavailable
from model.store.network import Network
from model.store.samples import SampleError
from model.store.sharing import SharedPool, held_out_contributor, set_review, shared_pool, split_pool
from ui import keys
from ui.access import is_owner
from ui.pictures import enlarge
from ui.session import flags_for, job_running, mnist_problem

GALLERY = 36  # shared samples shown at once
FILTERS = ("flagged", "all", "removed")
OWNER_ONLY = "Only the owner of this app sees and reviews shared handwriting."


def shared_panel(network: Network) -> None:
    if not is_owner():
        st.warning(OWNER_ONLY)
        return
    try:
        pool = shared_pool()
    except StoreUnavailable as error:
        st.warning(f"The shared samples cannot be read now: {error}")
        return
    if not len(pool):
        st.info(
            "Nobody shares their handwriting yet. Visitors can, in *Teach it your handwriting*: "
            "their samples then come here, for you to review and retrain the default on."
        )
        return
    reasons, second_opinion = flags_for(pool)
    counts(pool)
    if not second_opinion:
        st.caption("No second network to ask (model/second_opinion.keras is missing): flags by the default alone.")
    gallery(pool, reasons)
    retrain_controls(pool, reasons)
    report = network.card.other.get("shared")
    if report:
        show_report(network.name, report)


def counts(pool: SharedPool) -> None:
    contributors = np.unique(pool.contributors)
    held = [c for c in contributors if held_out_contributor(c)]
    st.markdown(
        f"**Shared handwriting**: {len(pool):,} samples by {len(contributors)} contributors "
        f"({len(held)} of them held out: never trained on, the retrain is judged on their writing)."
    )
    rows = {"digit": [str(d) for d in range(10)], "samples": np.bincount(pool.labels, minlength=10).tolist()}
    per_contributor = {
        f"{'held out ' if held_out_contributor(c) else ''}#{c}": np.bincount(
            pool.labels[pool.contributors == c], minlength=10
        ).tolist()
        for c in contributors
    }
    with st.expander("Per digit and per contributor"):
        st.dataframe({**rows, **per_contributor}, hide_index=True)


def gallery(pool: SharedPool, reasons: list[str | None]) -> None:
    flagged = [i for i, r in enumerate(reasons) if r and pool.reviews[i] != "kept"]
    st.caption(
        f"{len(flagged)} flagged: they stay out of training unless you keep them. Each contributor counts for "
        f"at most {SHARED_PER_CONTRIBUTOR} samples in a retrain."
    )
    choice = st.segmented_control("Show", FILTERS, key=keys.SHARED_FILTER, default=FILTERS[0])
    if choice == "all":
        shown = list(range(len(pool)))[::-1]
    elif choice == "removed":
        shown = [i for i, r in enumerate(pool.reviews) if r == "removed"]
    else:
        shown = [i for i, r in enumerate(reasons) if r]
    if not shown:
        st.caption("Nothing to show here.")
        return
    pages = -(-len(shown) // GALLERY)
    page = st.number_input("Page", 1, pages, key=keys.SHARED_PAGE) if pages > 1 else 1
    columns = st.columns(6)
    for n, i in enumerate(shown[(page - 1) * GALLERY : page * GALLERY]):
        with columns[n % 6]:
            review = pool.reviews[i]
            caption = f"{pool.labels[i]} · #{pool.contributors[i]}" + (f" · {review}" if review else "")
            st.image(enlarge(pool.images[i], 2), caption=caption, width=56)
            if reasons[i]:
                st.caption(reasons[i])
            sample = pool.ids[i]
            if review == "removed":
                st.button("Restore", key=f"restore_{sample}", on_click=decide, args=(sample, None))
            else:
                st.button("Remove", key=f"remove_{sample}", on_click=decide, args=(sample, "removed"))
                if reasons[i] and review != "kept":
                    st.button("Keep", key=f"keep_{sample}", on_click=decide, args=(sample, "kept"))


def decide(sample_id: str, decision: str | None) -> None:
    if not is_owner():
        st.toast(OWNER_ONLY)
        return
    try:
        set_review(sample_id, decision)
    except (SampleError, StoreUnavailable) as error:
        st.toast(f"Nothing changed: {error}")


def retrain_controls(pool: SharedPool, reasons: list[str | None]) -> None:
    from model.jobs.service import Kind, SharedSpec
    from model.reading.network import ModelFileError
    from model.store.network_file import read_network_file, shipped_path
    from ui.training import note_asked, submit

    shared = split_pool(pool, reasons, SHARED_PER_CONTRIBUTOR)
    problem = mnist_problem()
    pressed = st.button(
        "Retrain the default with shared handwriting",
        type="primary",
        on_click=note_asked,
        disabled=job_running() or not len(shared.train_y) or bool(problem),
        help="Trains the shipped network further on MNIST and the shared samples (not the held-out "
        "contributors', nor the flagged or removed ones); the result joins your networks with its figures "
        "before and after. Save it as the default from the sidebar.",
    )
    st.caption(
        f"It will train on {len(shared.train_y):,} samples of "
        f"{len(np.unique(shared.train_contributors))} contributors and judge on {len(shared.held_y):,} of "
        f"{len(np.unique(shared.held_contributors))} held-out contributors."
    )
    if not pressed or not is_owner():
        return
    try:
        base = read_network_file(shipped_path(), "Shipped")
    except ModelFileError as error:
        st.error(f"The shipped network cannot be read, so nothing was retrained: {error}")
        return
    submit(Kind.SHARED, SharedSpec(base, shared))
    st.rerun()  # the sidebar shows its place in the queue and its progress


def show_report(name: str, report: dict) -> None:
    """Before and after, side by side: MNIST test, the held-out contributors (and per digit), each judge."""
    before, after = report["before"], report["after"]
    st.markdown(
        f"**{name}** learnt from {report['trained_on']:,} samples of {report['contributors']} contributors "
        f"({report['flagged_out']} flagged and {report['removed']} removed left out, {report['capped_out']} past "
        f"a contributor's cap) in {report['seconds']:.0f} s. Judged on {report['held_out']:,} samples of "
        f"{report['held_out_contributors']} held-out contributors:"
    )
    names = {"mnist": "MNIST test set", "held_out": "held-out contributors"}
    rows = [k for k in ("mnist", "held_out") if k in after] + [k for k in after if k.endswith("judge")]
    st.table(
        {
            "read right": [names.get(k, k) for k in rows],
            "before": [f"{before[k]:.2%}" for k in rows],
            "after": [f"{after[k]:.2%}" for k in rows],
        }
    )
    if after.get("held_out_per_digit"):
        per_digit = {
            "digit": [str(d) for d in range(10)],
            "before": [_percent(v) for v in before["held_out_per_digit"]],
            "after": [_percent(v) for v in after["held_out_per_digit"]],
        }
        with st.expander("Held-out contributors, per digit"):
            st.table(per_digit)


def _percent(value) -> str:
    return "–" if value is None else f"{value:.1%}"
