//! Each case of §4.4.

mod common;
use common::*;
use diego_model::evacuation::{IndexRows, RowChange};
use diego_model::suspect;
use diego_model::*;
use ActualState::*;
use Presence::*;

fn a() -> InstanceKey {
    ik("g-a", "cell-a")
}
fn b() -> InstanceKey {
    ik("g-b", "cell-b")
}

fn marked() -> IndexRows {
    let r = IndexRows {
        ordinary: Some(running(&a(), Ordinary)),
        ..Default::default()
    };
    let out = suspect::mark_suspect(&r, "epoch-2", 100);
    r.applied(&out.changes)
}

#[test]
fn mark_suspect_moves_ordinary_aside_and_auctions_a_replacement() {
    let r = IndexRows {
        ordinary: Some(running(&a(), Ordinary)),
        ..Default::default()
    };
    let out = suspect::mark_suspect(&r, "epoch-2", 100);
    assert!(out.request_auction);
    let after = r.applied(&out.changes);
    let s = after.suspect.clone().unwrap();
    let mut expected = r.ordinary.clone().unwrap();
    expected.presence = Suspect;
    assert_eq!(
        s, expected,
        "state, cell and net info kept: it stays routable"
    );
    let o = after.ordinary.unwrap();
    assert_eq!((o.state, o.presence, o.since), (Unclaimed, Ordinary, 100));
    assert_eq!(o.modification_tag, ModificationTag::new("epoch-2"));
    assert!(o.instance_key.is_empty());
}

#[test]
fn mark_suspect_when_a_suspect_exists_unclaims_without_auction() {
    let mut r = marked();
    let mut o = r.ordinary.take().unwrap();
    o.claim(&b(), 110).unwrap();
    r.ordinary = Some(o);
    let out = suspect::mark_suspect(&r, "epoch-3", 120);
    assert!(
        !out.request_auction,
        "stale-unclaimed rule re-auctions later"
    );
    let [RowChange::Put(u)] = out.changes.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!((u.state, u.presence, u.since), (Unclaimed, Ordinary, 120));
    assert_eq!(u.modification_tag.epoch, "epoch-2", "same row, unclaimed");
}

#[test]
fn mark_suspect_ignores_unplaced_rows() {
    assert_eq!(
        suspect::mark_suspect(&IndexRows::default(), "e", 1),
        suspect::SuspectOutcome::default()
    );
    let r = IndexRows {
        ordinary: Some(row(Crashed, None, Ordinary, 0)),
        ..Default::default()
    };
    assert_eq!(
        suspect::mark_suspect(&r, "e", 1),
        suspect::SuspectOutcome::default()
    );
}

#[test]
fn rep_calls_from_the_suspect_instance() {
    let r = marked();
    assert_eq!(suspect::claim(&r, &a()), Some(vec![]), "claim ignored");
    assert_eq!(suspect::start(&r, &a()), Some(vec![]), "start ignored");
    assert_eq!(
        suspect::crash(&r, &a()),
        Some(vec![RowChange::Delete(Suspect)]),
        "crash deletes the suspect"
    );
    // Not the suspect: go on with the ordinary row.
    assert_eq!(suspect::claim(&r, &b()), None);
    assert_eq!(suspect::start(&r, &b()), None);
    assert_eq!(suspect::crash(&r, &b()), None);
    assert_eq!(suspect::crash(&IndexRows::default(), &a()), None);
}

#[test]
fn replacement_start_deletes_suspect_and_evacuating() {
    let mut r = marked();
    r.evacuating = Some(running(&ik("g-c", "cell-c"), Evacuating));
    assert_eq!(
        suspect::start_side_effects(&r),
        vec![RowChange::Delete(Evacuating), RowChange::Delete(Suspect)]
    );
    assert!(suspect::start_side_effects(&IndexRows {
        ordinary: Some(running(&b(), Ordinary)),
        ..Default::default()
    })
    .is_empty());
    // Full flow: the replacement claims and starts on cell b.
    let mut r = marked();
    let mut o = r.ordinary.take().unwrap();
    assert!(suspect::claim(&r, &b()).is_none());
    o.claim(&b(), 1).unwrap();
    o.start(&b(), &info("2.2.2.2"), 2).unwrap();
    r.ordinary = Some(o);
    let fx = suspect::start_side_effects(&r);
    let after = r.applied(&fx);
    assert!(after.suspect.is_none());
    assert_eq!(after.ordinary.unwrap().instance_key, b());
}

#[test]
fn promote_when_the_cell_comes_back() {
    for replacement_state in [Unclaimed, Claimed, Running] {
        let mut r = marked();
        if replacement_state != Unclaimed {
            let mut o = r.ordinary.take().unwrap();
            o.claim(&b(), 1).unwrap();
            if replacement_state == Running {
                o.start(&b(), &info("2.2.2.2"), 2).unwrap();
            }
            r.ordinary = Some(o);
        }
        let changes = suspect::promote_suspect(&r);
        assert_eq!(
            changes[0],
            RowChange::Delete(Ordinary),
            "the replacement is removed"
        );
        let after = r.applied(&changes);
        assert!(after.suspect.is_none());
        let o = after.ordinary.unwrap();
        let mut expected = r.suspect.clone().unwrap();
        expected.presence = Ordinary;
        assert_eq!(o, expected, "{replacement_state:?}");
    }
    assert!(suspect::promote_suspect(&IndexRows::default()).is_empty());
}

#[test]
fn extra_suspect_is_removed_when_both_run() {
    let mut r = marked();
    assert!(
        suspect::remove_extra_suspect(&r).is_empty(),
        "replacement not running yet"
    );
    r.ordinary = Some(running(&b(), Ordinary));
    assert_eq!(
        suspect::remove_extra_suspect(&r),
        vec![RowChange::Delete(Suspect)]
    );
}

#[test]
fn evacuation_calls_delete_the_suspect() {
    use diego_model::crash::RestartPolicy;
    use diego_model::evacuation::*;
    let r = marked();
    for out in [
        evacuate_claimed(&r, &key(), &a(), 1).unwrap(),
        evacuate_crashed(&r, &key(), &a(), "x", &RestartPolicy::default(), 1).unwrap(),
        evacuate_stopped(&r, &key(), &a()).unwrap(),
    ] {
        assert_eq!(out.changes, vec![RowChange::Delete(Suspect)]);
        assert!(!out.keep_container);
    }
}
