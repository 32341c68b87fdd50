//! The backend-independent `Store` test suite: every backend must pass all of it.

use std::sync::Arc;

use super::{Store, StoreError};
use crate::command::{FunctionRef, Operation};
use crate::ids::{ChannelId, UserId};
use crate::secrets::ResponseUrl;
use crate::workflow::request::{Request, RequestState};

/// A fresh pause request for tests.
pub(crate) fn request(created_at: u64) -> Request {
    let op = Operation {
        action: crate::command::Action::Pause,
        function: FunctionRef::parse("orders-fn").expect("valid"),
        source: None,
        region: None,
        duration: None,
        force: false,
        reason: Some("suite".into()),
    };
    Request::new(
        &op,
        UserId::new("U1"),
        None,
        ChannelId::new("C1"),
        ResponseUrl::new("https://hooks.slack.com/x"),
        created_at,
        900,
    )
}

/// Runs every check against a fresh, empty store.
pub async fn run_all(store: Arc<dyn Store>) {
    insert_and_get_round_trip(&*store).await;
    duplicates_are_refused(&*store).await;
    transitions_are_compare_and_set(&*store).await;
    illegal_transitions_are_refused(&*store).await;
    update_keeps_the_state(&*store).await;
    recent_is_newest_first(&*store).await;
    run_audit_and_recovery(&*store).await;
    every_field_survives(&*store).await;
    watched_lists_active_watches_only(&*store).await;
    owed_follow_ups_are_listed(&*store).await;
    replays_are_recognised(&*store).await;
    concurrent_transitions_have_one_winner(store).await;
}

async fn insert_and_get_round_trip(store: &dyn Store) {
    let r = request(10);
    store.insert(&r).await.unwrap();
    assert_eq!(store.get(&r.id).await.unwrap(), Some(r.clone()));
    assert_eq!(
        store.get(&crate::ids::RequestId::generate()).await.unwrap(),
        None
    );
}

async fn duplicates_are_refused(store: &dyn Store) {
    let r = request(11);
    store.insert(&r).await.unwrap();
    assert!(matches!(
        store.insert(&r).await,
        Err(StoreError::Duplicate(_))
    ));
}

async fn transitions_are_compare_and_set(store: &dyn Store) {
    let r = request(12);
    store.insert(&r).await.unwrap();
    let won = store
        .transition(
            &r.id,
            RequestState::Requested,
            RequestState::Confirmed,
            Box::new(|r| r.confirmed_by = Some(UserId::new("U1"))),
        )
        .await
        .unwrap()
        .expect("first transition wins");
    assert_eq!(won.state, RequestState::Confirmed);
    assert_eq!(won.confirmed_by, Some(UserId::new("U1")));
    let lost = store
        .transition(
            &r.id,
            RequestState::Requested,
            RequestState::Cancelled,
            Box::new(|_| {}),
        )
        .await
        .unwrap();
    assert_eq!(
        lost, None,
        "a transition from a state the request has left loses"
    );
    assert_eq!(
        store.get(&r.id).await.unwrap().unwrap().state,
        RequestState::Confirmed
    );
    let missing = store
        .transition(
            &crate::ids::RequestId::generate(),
            RequestState::Requested,
            RequestState::Confirmed,
            Box::new(|_| {}),
        )
        .await
        .unwrap();
    assert_eq!(missing, None);
}

async fn illegal_transitions_are_refused(store: &dyn Store) {
    let r = request(13);
    store.insert(&r).await.unwrap();
    let err = store
        .transition(
            &r.id,
            RequestState::Requested,
            RequestState::Settled,
            Box::new(|_| {}),
        )
        .await;
    assert!(matches!(err, Err(StoreError::IllegalTransition { .. })));
    assert_eq!(
        store.get(&r.id).await.unwrap().unwrap().state,
        RequestState::Requested
    );
}

async fn update_keeps_the_state(store: &dyn Store) {
    let r = request(14);
    store.insert(&r).await.unwrap();
    let updated = store
        .update(
            &r.id,
            RequestState::Requested,
            Box::new(|r| r.failure = Some("x".into())),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (updated.state, updated.failure.as_deref()),
        (RequestState::Requested, Some("x"))
    );
    assert_eq!(
        store
            .update(&r.id, RequestState::Confirmed, Box::new(|_| {}))
            .await
            .unwrap(),
        None,
        "only in the named state"
    );
}

async fn recent_is_newest_first(store: &dyn Store) {
    let newest = request(1_000);
    store.insert(&newest).await.unwrap();
    let recent = store.recent(2).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].id, newest.id);
    assert!(recent[0].created_at >= recent[1].created_at);
}

async fn concurrent_transitions_have_one_winner(store: Arc<dyn Store>) {
    let r = request(15);
    store.insert(&r).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = Arc::clone(&store);
        let id = r.id.clone();
        let to = if i % 2 == 0 {
            RequestState::Confirmed
        } else {
            RequestState::Cancelled
        };
        tasks.push(tokio::spawn(async move {
            store
                .transition(&id, RequestState::Requested, to, Box::new(|_| {}))
                .await
                .unwrap()
                .is_some()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(
        winners, 1,
        "exactly one of many concurrent transitions wins"
    );
}

/// Audit and recovery checks, run by `run_all`.
pub async fn run_audit_and_recovery(store: &dyn Store) {
    use crate::audit::{AuditEvent, AuditKind, AuditQuery};
    let mut first = AuditEvent::new(AuditKind::Requested, 100);
    first.function = Some("orders-fn".into());
    first.user = Some(UserId::new("U1"));
    first.reason = Some("poison, \"record\"".into());
    let s1 = store.append_audit(&first).await.unwrap();
    let mut second = AuditEvent::new(AuditKind::Settled, 200);
    second.function = Some("billing-fn".into());
    second.mapping = Some(crate::ids::MappingUuid::new("u-1"));
    second.before = Some("Enabled".into());
    second.after = Some("Disabled".into());
    let s2 = store.append_audit(&second).await.unwrap();
    let mut third = AuditEvent::new(AuditKind::Refused, 300);
    third.function = Some("orders-fn".into());
    let s3 = store.append_audit(&third).await.unwrap();
    assert!(
        s1 >= 1 && s1 < s2 && s2 < s3,
        "seq increases: {s1} {s2} {s3}"
    );

    let all = store.audit(&AuditQuery::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![s1, s2, s3],
        "oldest first"
    );
    first.seq = s1;
    assert_eq!(all[0], first, "round trip of every field");
    second.seq = s2;
    assert_eq!(all[1], second);
    let orders = store
        .audit(&AuditQuery {
            function: Some("orders-fn".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        orders.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![s1, s3]
    );
    let since = store
        .audit(&AuditQuery {
            since: Some(200),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        since.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![s2, s3]
    );
    let newest = store
        .audit(&AuditQuery {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        newest.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![s2, s3],
        "the newest two, oldest first"
    );

    // Recovery: only unfinished requests, oldest first.
    let done = request(50);
    store.insert(&done).await.unwrap();
    store
        .transition(
            &done.id,
            RequestState::Requested,
            RequestState::Cancelled,
            Box::new(|_| {}),
        )
        .await
        .unwrap()
        .unwrap();
    let unfinished = store.unfinished().await.unwrap();
    assert!(unfinished.iter().all(|r| !r.state.is_final()));
    assert!(!unfinished.iter().any(|r| r.id == done.id));
    assert!(
        unfinished
            .windows(2)
            .all(|w| w[0].created_at <= w[1].created_at)
    );
}

async fn every_field_survives(store: &dyn Store) {
    use crate::workflow::request::Approval;
    let mut r = request(77);
    r.team = Some(crate::ids::TeamId::new("T1"));
    r.region = Some("eu-west-1".into());
    r.source = Some("orders".into());
    r.rule = Some(2);
    r.needs_approval = true;
    r.approval = Some(Approval {
        posting_since: None,
        message_ts: Some("1.2".into()),
        expires_at: 99,
        approvers: vec!["U2".into(), "S1".into()],
        decided_by: None,
        decided_at: None,
    });
    r.mappings.push(crate::lambda::Mapping {
        uuid: crate::ids::MappingUuid::new("u-77"),
        source_arn: Some("arn:aws:kinesis:us-east-1:123456789012:stream/orders".into()),
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:orders-fn".into(),
        state: "Enabled".into(),
        state_transition_reason: Some("USER_INITIATED".into()),
        topics: vec!["t".into()],
        maximum_record_age: None,
    });
    store.insert(&r).await.unwrap();
    assert_eq!(store.get(&r.id).await.unwrap(), Some(r));
}

async fn owed_follow_ups_are_listed(store: &dyn Store) {
    use crate::workflow::request::OwedFollowUp;
    let mut owed = request(500);
    owed.state = RequestState::Settled;
    owed.follow_up_owed = Some(OwedFollowUp {
        took_secs: 3,
        attempts: 1,
        retry_at: 60,
    });
    let mut delivered = request(501);
    delivered.state = RequestState::Settled;
    store.insert(&owed).await.unwrap();
    store.insert(&delivered).await.unwrap();
    let listed = store.owed_follow_ups().await.unwrap();
    assert_eq!(listed, vec![owed.clone()]);
    store
        .update(
            &owed.id,
            RequestState::Settled,
            Box::new(|r: &mut Request| r.follow_up_owed = None),
        )
        .await
        .unwrap();
    assert!(store.owed_follow_ups().await.unwrap().is_empty());
}

async fn watched_lists_active_watches_only(store: &dyn Store) {
    use crate::workflow::request::Watch;
    let watch = |ended: Option<&str>| Watch {
        paused_at: 5,
        limit_secs: Some(86_400),
        reminders_sent: vec![50],
        past_warned: false,
        resume_at: None,
        ended: ended.map(str::to_owned),
        reported_reasons: Default::default(),
        released: Vec::new(),
    };
    let before: Vec<_> = store
        .watched()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let mut active = request(400);
    let mut ended = request(401);
    let unwatched = request(402);
    for r in [&mut active, &mut ended] {
        r.state = RequestState::Settled;
    }
    active.watch = Some(watch(None));
    ended.watch = Some(watch(Some("resumed")));
    for r in [&active, &ended, &unwatched] {
        store.insert(r).await.unwrap();
    }
    let now: Vec<_> = store
        .watched()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| !before.contains(&r.id))
        .collect();
    assert_eq!(now.len(), 1);
    assert_eq!(now[0], active);
    // Ending the watch (an update in the settled state) removes it from the list.
    store
        .update(
            &active.id,
            RequestState::Settled,
            Box::new(|r| r.watch.as_mut().unwrap().ended = Some("resumed".into())),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .watched()
            .await
            .unwrap()
            .iter()
            .all(|r| r.id != active.id)
    );
}

async fn replays_are_recognised(store: &dyn Store) {
    assert!(store.first_delivery("v0=aaa", 1_300, 1_000).await.unwrap());
    assert!(
        !store.first_delivery("v0=aaa", 1_300, 1_001).await.unwrap(),
        "the same signature again is a replay"
    );
    assert!(store.first_delivery("v0=bbb", 1_300, 1_001).await.unwrap());
    // Once expired (the timestamp window has passed anyway), it is forgotten.
    assert!(store.first_delivery("v0=aaa", 2_000, 1_400).await.unwrap());
}
