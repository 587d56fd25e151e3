"""Issue 10 item 4: every state of a drawn clip in `qc report` has a next step, and the report
agrees with the curated labels (store only: `qc report` never calls Label Studio).

Before, a self re-check sent to a third pass whose third annotator agreed got no curated label
and was not listed as open either (the pair that agreed was "agreed" in the report, while the
curation rule waited for a third opinion after it)."""

from __future__ import annotations

from sqlalchemy import select

from avel_annotate.config import Settings
from avel_annotate.services import qc, recheck
from avel_annotate.services.curation import curated_labels, recompute_curated
from avel_annotate.services.store import open_store
from avel_annotate.store import annotations as q
from avel_annotate.store.database import Store
from avel_annotate.store.tables import Annotation, Category, Clip, LsTask
from tests.integration.labelstudio.conftest import add_clips

A, B, C = "1100000000", "1110000000", "0000000011"


def test_every_drawn_clip_has_a_state_with_a_next_step(any_settings: Settings, any_store: Store):
    s = any_settings
    ids = add_clips(s, 6, ["dog"])
    ls_ids = iter(range(1000, 2000))
    with open_store(s) as opened, opened.session() as session:
        dog = session.scalar(select(Category.id).where(Category.name == "dog"))
        clip = {c.clip_id: c.id for c in session.scalars(select(Clip))}
        first = q.add_project(session, "http://ls.invalid", 1, "avel", "0" * 64)
        rc = q.add_project(session, "http://ls.invalid", 2, recheck.recheck_title("avel"), "0" * 64)

        def task(project: int, clip_id: str) -> int:
            t = LsTask(project_id=project, clip_id=clip[clip_id], ls_task_id=next(ls_ids))
            session.add(t)
            session.flush()
            return t.id

        def annotate(task_pk: int, clip_id: str, who: str, rnd: int, segs: str) -> int:
            (pk,) = q.insert_annotations(
                session,
                [
                    {
                        "task_id": task_pk,
                        "clip_id": clip[clip_id],
                        "ls_annotation_id": next(ls_ids),
                        "annotator": who,
                        "annotator_ls_id": None,
                        "round": rnd,
                        "segments": segs,
                        "category_id": dog,
                        "was_cancelled": False,
                        "ground_truth": False,
                    }
                ],
            )
            return pk

        firsts = {c: task(first.id, c) for c in ids}
        for c in ids:
            annotate(firsts[c], c, "ann", 1, A)
        q.insert_draws(
            session, [(firsts[c], clip[c], True) for c in ids], draw_run=1, seed=0, fraction=1.0
        )
        rtask = {c: task(rc.id, c) for c in ids[:5]}  # ids[5]: never sent to the re-check
        # ids[0]: ann re-checks her own clip, a third pass is decided (before the guard), and
        # cid agrees with the first pass
        annotate(rtask[ids[0]], ids[0], "ann", 2, A)
        q.add_adjudication(session, clip[ids[0]], "third_pass", "lead")
        annotate(rtask[ids[0]], ids[0], "cid", 3, A)
        # ids[1]: a disagreement, third pass, cid sides with bob: resolved
        annotate(rtask[ids[1]], ids[1], "bob", 2, B)
        q.add_adjudication(session, clip[ids[1]], "third_pass", "lead")
        annotate(rtask[ids[1]], ids[1], "cid", 3, B)
        # ids[2]: a disagreement sent to a third pass that has not come yet
        annotate(rtask[ids[2]], ids[2], "bob", 2, B)
        q.add_adjudication(session, clip[ids[2]], "third_pass", "lead")
        # ids[3]: a third opinion that matches neither: open again, with its id to accept
        annotate(rtask[ids[3]], ids[3], "bob", 2, B)
        q.add_adjudication(session, clip[ids[3]], "third_pass", "lead")
        third = annotate(rtask[ids[3]], ids[3], "cid", 3, C)
        # ids[4]: sent, not re-checked yet; ids[5]: drawn, never sent
        recompute_curated(session)
        third_ls = session.get(Annotation, third).ls_annotation_id  # type: ignore[union-attr]

    cur = {c.clip_id: c for c in curated_labels(any_store)}
    assert (cur[ids[0]].provenance, cur[ids[0]].segments) == ("agreement", A)
    assert (cur[ids[1]].provenance, cur[ids[1]].segments) == ("adjudication", B)
    assert set(cur) == {ids[0], ids[1]}

    r = qc.qc_report(any_store)
    assert (r.drawn, r.rechecked, r.pending, r.unsent) == (6, 4, 2, 1)
    assert "1 drawn clip(s) wait for their re-check" in r.pending_next_step
    assert "1 have no re-check task yet: run `avel annotate qc sample`" in r.pending_next_step
    (flag,) = r.same_annotator
    assert flag.startswith(f"{ids[0]}: annotation ") and "fix: delete annotation" in flag
    states = {d.clip_id: d for d in r.disagreements}
    assert ids[0] not in states  # agreed: curated, nothing to do
    assert (states[ids[1]].status, states[ids[1]].next_step) == ("resolved", "none: curated")
    assert states[ids[2]].status == "third_pass" and "third annotator" in states[ids[2]].next_step
    assert states[ids[3]].status == "open"
    assert f"--accept {third_ls} | --third-pass" in states[ids[3]].next_step
    curated_states = {"agreed", "accepted", "resolved"}
    for d in r.disagreements:
        assert (d.status in curated_states) == (d.clip_id in cur)
        assert d.next_step
