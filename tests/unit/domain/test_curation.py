from __future__ import annotations

import pytest

from avel_annotate.domain.curation import AdjudicationView, AnnotationView, curate

A = "1100000000"
B = "1110000000"


def ann(id_, round_, who, segs=A, cat=1, cancelled=False, deleted=False):
    return AnnotationView(id_, round_, who, segs, cat, cancelled, deleted)


@pytest.mark.parametrize(
    ("anns", "drawn", "adj", "expected"),
    [
        # nothing usable
        ([], False, [], None),
        ([ann(1, 1, "ann", cancelled=True)], False, [], None),
        ([ann(1, 1, "ann", deleted=True)], False, [], None),
        # not drawn: first pass alone
        ([ann(1, 1, "ann")], False, [], (A, 1, "first_pass", (1,))),
        # a skip before the first real pass does not block it
        (
            [ann(1, 1, "bob", cancelled=True), ann(2, 1, "ann", B)],
            False,
            [],
            (B, 1, "first_pass", (2,)),
        ),
        # drawn, re-check pending
        ([ann(1, 1, "ann")], True, [], None),
        # drawn, agreement
        ([ann(1, 1, "ann"), ann(2, 2, "bob")], True, [], (A, 1, "agreement", (1, 2))),
        # drawn, disagreement in one second / in the category: open
        ([ann(1, 1, "ann"), ann(2, 2, "bob", B)], True, [], None),
        ([ann(1, 1, "ann"), ann(2, 2, "bob", cat=2)], True, [], None),
        # re-check by the same annotator does not count
        ([ann(1, 1, "ann"), ann(2, 2, "ann")], True, [], None),
        (
            [ann(1, 1, "ann"), ann(2, 2, "ann", B), ann(3, 3, "bob")],
            True,
            [],
            (A, 1, "agreement", (1, 3)),
        ),
        # accepted annotation decides
        (
            [ann(1, 1, "ann"), ann(2, 2, "bob", B)],
            True,
            [AdjudicationView(1, "accept", 2)],
            (B, 1, "adjudication", (2,)),
        ),
        # accept of a deleted annotation does not decide
        (
            [ann(1, 1, "ann"), ann(2, 2, "bob", B, deleted=True)],
            True,
            [AdjudicationView(1, "accept", 2)],
            None,
        ),
        # third pass pending, then agreeing with the re-check, then with neither
        ([ann(1, 1, "ann"), ann(2, 2, "bob", B)], True, [AdjudicationView(1, "third_pass")], None),
        (
            [ann(1, 1, "ann"), ann(2, 2, "bob", B), ann(3, 3, "cid", B)],
            True,
            [AdjudicationView(1, "third_pass")],
            (B, 1, "adjudication", (2, 3)),
        ),
        (
            [ann(1, 1, "ann"), ann(2, 2, "bob", B), ann(3, 3, "cid", "0" * 10)],
            True,
            [AdjudicationView(1, "third_pass")],
            None,
        ),
        # issue 10: a self re-check sent to a third pass (before the guard), the third
        # annotator agrees with the first pass: that pair agrees, the clip is curated (it got
        # nothing, and was listed as neither open nor curated)
        (
            [ann(1, 1, "ann"), ann(2, 2, "ann"), ann(3, 3, "cid")],
            True,
            [AdjudicationView(1, "third_pass")],
            (A, 1, "agreement", (1, 3)),
        ),
        # a third "opinion" by one of the first two annotators does not decide
        (
            [ann(1, 1, "ann"), ann(2, 2, "bob", B), ann(3, 3, "ann", B)],
            True,
            [AdjudicationView(1, "third_pass")],
            None,
        ),
        (
            [ann(1, 1, "ann"), ann(2, 2, "bob", B), ann(3, 3, "bob", A)],
            True,
            [AdjudicationView(1, "third_pass")],
            None,
        ),
        # the latest decision wins
        (
            [ann(1, 1, "ann"), ann(2, 2, "bob", B), ann(3, 3, "cid", "0" * 10)],
            True,
            [AdjudicationView(1, "third_pass"), AdjudicationView(2, "accept", 1)],
            (A, 1, "adjudication", (1,)),
        ),
    ],
)
def test_curate(anns, drawn, adj, expected):
    got = curate(anns, drawn, adj)
    if expected is None:
        assert got is None
    else:
        assert got is not None
        assert (got.segments, got.category_id, got.provenance, got.annotation_ids) == expected
