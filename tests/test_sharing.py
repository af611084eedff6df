"""Shared handwriting: opt-in and revocable (SQLite and PostgreSQL), flagged, capped, held out by contributor."""

import numpy as np
import pytest

from model.reading.flags import MIN_INK_PIXELS, flag_reasons, near_duplicates
from model.store.collection import new_token, visitor_store
from model.store.samples import SampleError
from model.store.sharing import (
    CONSENT,
    contributor_counts,
    held_out_contributor,
    set_review,
    share,
    shared_pool,
    shared_since,
    split_pool,
    withdraw,
)


def digit(seed: int, ink: int = 120) -> np.ndarray:
    """A 28×28 image with `ink` pixels of full ink at seeded places (distinct images for distinct seeds)."""
    image = np.zeros(784, np.uint8)
    image[np.random.default_rng(seed).choice(784, ink, replace=False)] = 255
    return image.reshape(28, 28)


def test_nothing_is_shared_until_the_visitor_turns_it_on_and_new_samples_are_shared_too(database_url):
    mine, other = visitor_store(new_token(), database_url), visitor_store(new_token(), database_url)
    for n in range(3):
        mine.add(digit(n), n)
        other.add(digit(100 + n), n)
    assert shared_since(mine) is None and len(shared_pool(database_url)) == 0, "off until turned on"
    share(mine)
    assert shared_since(mine) is not None
    pool = shared_pool(database_url)
    assert sorted(pool.labels.tolist()) == [0, 1, 2] and len(set(pool.contributors.tolist())) == 1
    mine.add(digit(3), 3)
    assert len(shared_pool(database_url)) == 4, "a sample saved while sharing is shared too"
    assert list(contributor_counts(database_url).values()) == [[1, 1, 1, 1, 0, 0, 0, 0, 0, 0]]


def test_withdrawn_samples_leave_the_pool_and_sharing_again_brings_them_back(database_url):
    mine = visitor_store(new_token(), database_url)
    mine.add(digit(1), 1)
    share(mine)
    share(mine)  # twice: still one share, its first moment kept
    since = shared_since(mine)
    withdraw(mine)
    assert shared_since(mine) is None and len(shared_pool(database_url)) == 0
    share(mine)
    assert len(shared_pool(database_url)) == 1 and shared_since(mine) >= since


def test_sharing_before_the_first_sample_makes_the_collection_and_shares_what_comes(database_url):
    mine = visitor_store(new_token(), database_url)
    share(mine)
    mine.add(digit(7), 7)
    assert shared_pool(database_url).labels.tolist() == [7]


def test_contributors_are_numbers_and_the_pool_names_no_key_or_token(database_url):
    token = new_token()
    mine = visitor_store(token, database_url)
    mine.add(digit(1), 1)
    share(mine)
    pool = shared_pool(database_url)
    assert isinstance(int(pool.contributors[0]), int)
    assert token not in repr(pool) and mine.key not in repr(pool)


def test_the_owners_review_changes_shared_samples_only(database_url):
    shared, private = visitor_store(new_token(), database_url), visitor_store(new_token(), database_url)
    a = shared.add(digit(1), 1).id
    b = private.add(digit(2), 2).id
    share(shared)
    set_review(a, "removed", database_url)
    set_review(b, "removed", database_url)  # not shared: nothing happens to it
    assert shared_pool(database_url).reviews == ["removed"]
    with pytest.raises(SampleError):
        set_review(a, "destroyed", database_url)
    with pytest.raises(SampleError):
        set_review("'; DROP TABLE samples; --", "kept", database_url)
    set_review(a, None, database_url)
    assert shared_pool(database_url).reviews == [None]


def test_the_consent_says_what_sharing_allows_in_one_sentence():
    assert CONSENT.count(". ") == 0 and CONSENT.endswith(".")
    assert "owner" in CONSENT and "train" in CONSENT and "CC0" in CONSENT


def test_a_fixed_fifth_of_the_contributors_is_held_out():
    held = [held_out_contributor(c) for c in range(2000)]
    assert 0.16 < np.mean(held) < 0.24
    assert held == [held_out_contributor(c) for c in range(2000)], "the same contributors, always"


def test_flags_say_why_labels_read_as_another_digit_by_both_blanks_and_duplicates():
    images = np.stack([digit(0), digit(1), digit(2, ink=MIN_INK_PIXELS - 5), digit(3), digit(3)])
    labels = np.array([7, 7, 4, 5, 5])
    sure_one = np.eye(10)[[1, 1, 4, 5, 5]] * 0.95 + 0.005
    other_opinion = sure_one.copy()
    other_opinion[1] = np.eye(10)[7] * 0.95 + 0.005  # the second network reads sample 1 as its label: no flag
    reasons = flag_reasons(images, labels, sure_one, other_opinion)
    assert reasons[0] == "labelled 7, read as 1 by both networks"
    assert reasons[1] is None, "one network alone does not flag"
    assert reasons[2].startswith("near-blank")
    assert reasons[3] is None and reasons[4] == "a near-duplicate of sample 4 of the pool"


def test_near_duplicates_are_found_within_a_few_grey_levels_only():
    base = np.zeros((28, 28), np.uint8)
    base[4:24, 12:17] = 255  # a 1, as to_mnist makes one
    close = base.copy()
    close[4:9, 17] = 100  # the same drawing, a little wider at the top: 5 pixels of 100
    far = base.copy()
    far[4:8, 6:12] = 255  # a flag: another drawing
    assert near_duplicates(np.stack([base, far, close])) == {2: 0}


def pool_of(contributors: dict[int, int]):
    from model.store.sharing import SharedPool

    ids, labels, who = [], [], []
    for contributor, count in contributors.items():
        for n in range(count):
            ids.append(f"{contributor}-{n}")
            labels.append(n % 10)
            who.append(contributor)
    images = np.stack([digit(i) for i in range(len(ids))])
    return SharedPool(images, np.array(labels, np.uint8), np.array(who), ids, [None] * len(ids))


def test_a_retrain_takes_each_contributor_up_to_the_cap_and_leaves_the_held_out_ones_whole():
    trained = [c for c in range(40) if not held_out_contributor(c)][:3]
    held = [c for c in range(40) if held_out_contributor(c)][:1]
    pool = pool_of({trained[0]: 300, trained[1]: 20, trained[2]: 5, held[0]: 30})
    shared = split_pool(pool, [None] * len(pool), per_contributor=100)
    counts = {c: int((shared.train_contributors == c).sum()) for c in trained}
    assert counts == {trained[0]: 100, trained[1]: 20, trained[2]: 5}, "no contributor counts for more than 100"
    assert shared.capped_out == 200
    assert set(shared.held_contributors.tolist()) == {held[0]} and len(shared.held_y) == 30
    assert held[0] not in shared.train_contributors


def test_flagged_samples_stay_out_unless_kept_and_removed_ones_always():
    trained = [c for c in range(40) if not held_out_contributor(c)][0]
    pool = pool_of({trained: 4})
    pool.reviews[1] = "kept"
    pool.reviews[2] = "removed"
    reasons = ["near-blank", "near-blank", None, None]
    shared = split_pool(pool, reasons, per_contributor=100)
    assert sorted(shared.train_y.tolist()) == [1, 3], "the kept flagged one and the plain one"
    assert shared.flagged_out == 1 and shared.removed == 1
