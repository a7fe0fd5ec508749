//! What the API lets each client do and what a call may cost: roles per
//! token, deadlines, and listings a page at a time; through a real tonic
//! client against a real server on a store on disk.

use std::time::{Duration, Instant};

use tonic::Code;
use twin_actors::grpc::{LimitConfig, Role};
use twin_core::state::SensorState;
use twin_core::store::Tree;
use twin_core::{EntityId, EntityRecord, Kind, KindState, Measurand, Observation, SimTime};
use twin_proto::v1 as pb;

mod support;
use support::*;

/// The role each method needs, as docs/api.md states it.
fn needs(method: &str) -> Role {
    match method {
        "Ingest" | "SendCommands" => Role::Write,
        "Pause" | "Resume" | "SetSpeed" | "Step" | "LoadScenario" => Role::Admin,
        _ => Role::Read,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_is_allowed_or_denied_by_the_tokens_role() {
    let f = fixture(LimitConfig::default()).await;
    for (token, role) in [
        (READER, Role::Read),
        (WRITER, Role::Write),
        (TOKEN, Role::Admin),
    ] {
        let c = client(&f, Some(token)).await;
        let answers = call_every_method(&c).await;
        assert_eq!(answers.len(), 23);
        for (method, answer) in answers {
            let code = answer.err().map_or(Code::Ok, |e| e.code());
            if role < needs(method) {
                assert_eq!(code, Code::PermissionDenied, "{method} as {role}");
            } else {
                assert!(
                    !matches!(code, Code::PermissionDenied | Code::Unauthenticated),
                    "{method} as {role}: {code:?}"
                );
            }
        }
    }
    // A denied write changed nothing.
    let mut reader = client(&f, Some(READER)).await;
    let batch = pb::IngestRequest {
        batch_id: 1,
        observations: vec![obs("sensor/t0", 5_000, "temperature", 99.0)],
        durable: false,
    };
    let e = reader
        .ingest(tokio_stream::iter(vec![batch]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(e.message().contains("write"), "{}", e.message());
    let t0 = reader
        .get_entity(pb::GetEntityRequest {
            id: "sensor/t0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(t0.readings.is_empty(), "{:?}", t0.readings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_store_read_meets_its_deadline_while_other_calls_answer() {
    let (f, gate) = gated_fixture_with(LimitConfig {
        deadline: Duration::from_millis(1_500),
        ..LimitConfig::default()
    })
    .await;
    let c = client(&f, Some(TOKEN)).await;
    let history = pb::GetHistoryRequest {
        id: "sensor/t0".into(),
        measurand: "temperature".into(),
        from_ms: 0,
        to_ms: 3_600_000,
        ..Default::default()
    };
    gate.hold_reads(Tree::Chunks);
    // More slow reads than the server has async workers.
    let started = Instant::now();
    let slow: Vec<_> = (0..4)
        .map(|_| {
            let (mut c, h) = (c.clone(), history.clone());
            tokio::spawn(async move { c.get_history(h).await })
        })
        .collect();
    // Meanwhile a read of a resident entity answers, several times.
    let mut quick = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let e = c
            .clone()
            .get_entity(pb::GetEntityRequest {
                id: "sensor/t0".into(),
            })
            .await;
        quick.push((e.map(|e| e.into_inner().id), t.elapsed()));
    }
    let mut slow_codes = Vec::new();
    for s in slow {
        slow_codes.push(s.await.unwrap().map(|_| ()).map_err(|e| e.code()));
    }
    let waited = started.elapsed();
    // Let the held reads go before asserting: the blocking pool waits for
    // them when the runtime is dropped.
    gate.release();
    for (id, took) in quick {
        assert_eq!(id.unwrap(), "sensor/t0");
        assert!(took < Duration::from_millis(1_000), "{took:?}");
    }
    assert_eq!(slow_codes, vec![Err(Code::DeadlineExceeded); 4]);
    assert!(
        waited >= Duration::from_millis(1_400) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    c.clone().get_history(history).await.unwrap();
}

fn temperature(id: &str, secs: i64, x: f64) -> Observation {
    Observation::number(
        EntityId::parse(id).unwrap(),
        SimTime::secs(secs),
        Measurand::Temperature,
        x,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_comes_in_pages_that_join_up_to_the_whole_range() {
    let f = fixture(LimitConfig::default()).await;
    let batch: Vec<Observation> = (1..=25)
        .map(|s| temperature("sensor/t0", s, s as f64))
        .collect();
    let report = f.runtime.ingest(batch, false).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let mut c = client(&f, Some(READER)).await;
    let req = |max_points: u32, page_token: String| pb::GetHistoryRequest {
        id: "sensor/t0".into(),
        measurand: "temperature".into(),
        from_ms: 0,
        to_ms: 60_000,
        resolution: pb::Resolution::Raw as i32,
        max_points,
        page_token,
    };
    let whole = c
        .get_history(req(0, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(whole.samples.len(), 25);
    assert!(whole.next_page_token.is_empty());
    let (mut joined, mut sizes, mut token) = (Vec::new(), Vec::new(), String::new());
    loop {
        let page = c.get_history(req(10, token)).await.unwrap().into_inner();
        sizes.push(page.samples.len());
        joined.extend(page.samples);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(joined, whole.samples);
    for (max, token) in [(100_001, ""), (0, "h-5"), (0, "h60000"), (0, "garbage")] {
        let e = c.get_history(req(max, token.into())).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{max} {token}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_come_in_pages_that_join_up_to_the_whole_log() {
    let f = fixture(LimitConfig::default()).await;
    let mut c = client(&f, Some(READER)).await;
    let req = |limit: u32, page_token: String| pb::ListEventsRequest {
        limit,
        page_token,
        ..Default::default()
    };
    let whole = c
        .list_events(req(0, String::new()))
        .await
        .unwrap()
        .into_inner();
    // The fixture created five entities.
    assert_eq!(whole.events.len(), 5);
    assert!(whole.next_page_token.is_empty());
    let (mut joined, mut sizes, mut token) = (Vec::new(), Vec::new(), String::new());
    loop {
        let page = c.list_events(req(2, token)).await.unwrap().into_inner();
        sizes.push(page.events.len());
        joined.extend(page.events);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(joined, whole.events);
    for bad in ["5", "x.1", "-1.0"] {
        let e = c.list_events(req(2, bad.into())).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{bad}");
    }
    let e = c
        .list_events(pb::ListEventsRequest {
            types: vec![999],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_pages_cover_resident_and_passivated_entities_once_each() {
    let f = fixture(LimitConfig::default()).await;
    let extra: Vec<EntityRecord> = (0..40)
        .map(|i| {
            EntityRecord::new(Kind::Sensor, &format!("s{i:02}"), "pt100").with_state(
                KindState::Sensor(SensorState::measuring(
                    &[Measurand::Temperature],
                    SimTime::secs(1),
                )),
            )
        })
        .collect();
    f.runtime.create(extra, SimTime::ZERO).await.unwrap();
    // Passivate everything, then wake a few: the twin is in both places.
    f.runtime.tick(SimTime::hours(3)).await.unwrap();
    assert_eq!(f.runtime.resident().await.unwrap(), 0);
    let wake: Vec<Observation> = [3, 17, 18, 39]
        .iter()
        .map(|i| temperature(&format!("sensor/s{i:02}"), 3 * 3600 + 1, 20.0))
        .collect();
    let report = f.runtime.ingest(wake, false).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(f.runtime.resident().await.unwrap(), 4);
    let mut c = client(&f, Some(READER)).await;
    let (mut ids, mut token) = (Vec::new(), String::new());
    loop {
        let page = c
            .list_entities(pb::ListEntitiesRequest {
                page_size: 7,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.entities.len() <= 7);
        for e in &page.entities {
            // The woken ones show their new reading, not the stored state.
            if e.id == "sensor/s17" {
                assert_eq!(e.readings.len(), 1, "{e:?}");
            }
        }
        ids.extend(page.entities.into_iter().map(|e| e.id));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(ids.len(), 45, "{ids:?}");
    let raw: Vec<u64> = ids
        .iter()
        .map(|i| EntityId::parse(i).unwrap().raw())
        .collect();
    assert!(
        raw.windows(2).all(|w| w[0] < w[1]),
        "in id order, once each"
    );
    let e = c
        .list_entities(pb::ListEntitiesRequest {
            page_token: "123".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
}
