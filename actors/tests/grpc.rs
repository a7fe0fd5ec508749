//! The twin.v1 API through a real tonic client, against a real server on
//! loopback, on a runtime with a sled store on disk.

use tonic::Code;
use tonic::transport::Channel;
use twin_actors::grpc::LimitConfig;
use twin_core::{Kind, Measurand, SimTime};
use twin_proto::v1 as pb;
use twin_proto::v1::twin_client::TwinClient;

mod support;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_lists_and_relations() {
    let f = fixture(LimitConfig::default()).await;
    let mut c = client(&f, Some(TOKEN)).await;
    let e = c
        .get_entity(pb::GetEntityRequest {
            id: "machine/m0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((e.id.as_str(), e.subtype.as_str()), ("machine/m0", "pump"));
    assert_eq!(e.relations[0].target, "zone/hall");
    let err = c
        .get_entity(pb::GetEntityRequest {
            id: "machine/nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .get_entity(pb::GetEntityRequest {
            id: "robot/r2".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("id: "), "{}", err.message());

    // Kind filter and paging: 2 sensors, a page of 1, then the next.
    let list = |token: String| pb::ListEntitiesRequest {
        filter: Some(pb::EntityFilter {
            kinds: vec![pb::Kind::Sensor as i32],
            ..Default::default()
        }),
        page_size: 1,
        page_token: token,
    };
    let p1 = c
        .list_entities(list(String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p1.entities.len(), 1);
    let p2 = c
        .list_entities(list(p1.next_page_token.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p2.entities.len(), 1);
    assert_ne!(p1.entities[0].id, p2.entities[0].id);
    assert!(!p1.next_page_token.is_empty() && p2.next_page_token.is_empty());
    // In the zone: the two machines.
    let inside = c
        .list_entities(pb::ListEntitiesRequest {
            filter: Some(pb::EntityFilter {
                zone: "zone/hall".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inside.entities.len(), 2);
    let bad = c
        .list_entities(pb::ListEntitiesRequest {
            filter: Some(pb::EntityFilter {
                bbox: vec![5.0, 45.0, 4.0, 46.0],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().starts_with("filter.bbox"),
        "{}",
        bad.message()
    );
    let rel = c
        .get_relations(pb::GetRelationsRequest {
            id: "machine/m0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rel.incoming[0].target, "sensor/t0");
    let ms = c.get_measurands(pb::Empty {}).await.unwrap().into_inner();
    assert!(
        ms.measurands
            .iter()
            .any(|m| m.name == "pm25" && m.unit == "µg/m³")
    );
}

/// A stream of durable batches, mixed with plain ones: the next batches
/// are applied while earlier ones wait for their sync, and the acks still
/// come one per batch, in order, each durable batch's once it is durable;
/// once the last is acknowledged, the entity shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_durable_batches_is_acknowledged_in_order() {
    let f = fixture(LimitConfig::default()).await;
    let mut c = client(&f, Some(TOKEN)).await;
    let batches: Vec<pb::IngestRequest> = (0..40u64)
        .map(|b| pb::IngestRequest {
            batch_id: 100 + b,
            durable: b % 3 != 2,
            observations: vec![obs(
                "sensor/t0",
                10_000 + 1_000 * b as i64,
                "temperature",
                20.0 + b as f64 / 10.0,
            )],
        })
        .collect();
    let mut acks = c
        .ingest(tokio_stream::iter(batches))
        .await
        .unwrap()
        .into_inner();
    for b in 0..40u64 {
        let ack = acks.message().await.unwrap().unwrap();
        assert_eq!(ack.batch_id, 100 + b);
        assert_eq!(ack.durable, b % 3 != 2, "batch {b}");
        assert!(ack.errors.is_empty(), "{:?}", ack.errors);
    }
    assert!(acks.message().await.unwrap().is_none(), "one ack per batch");
    let e = c
        .get_entity(pb::GetEntityRequest {
            id: "sensor/t0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let t = e
        .readings
        .iter()
        .find(|r| r.measurand == "temperature")
        .unwrap();
    assert_eq!(t.time_ms, 49_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_reports_each_bad_item_and_applies_the_rest() {
    let f = fixture(LimitConfig::default()).await;
    let mut c = client(&f, Some(TOKEN)).await;
    let batch = pb::IngestRequest {
        batch_id: 7,
        durable: true,
        observations: vec![
            obs("sensor/t0", 1_000, "temperature", 21.5),
            obs("sensor/nobody", 1_000, "temperature", 21.5),
            obs("sensor/t1", 1_000, "temperature", f64::NAN),
            pb::Observation {
                unit: "°F".into(),
                ..obs("sensor/t1", 1_000, "temperature", 70.0)
            },
            obs("sensor/t1", 2_000, "temperature", 22.0),
            obs("sensor/t1", 1_500, "temperature", 22.5),
        ],
    };
    let mut acks = c
        .ingest(tokio_stream::iter(vec![batch]))
        .await
        .unwrap()
        .into_inner();
    let ack = acks.message().await.unwrap().unwrap();
    assert_eq!(ack.batch_id, 7);
    assert!(ack.durable);
    let codes: Vec<(u32, &str)> = ack
        .errors
        .iter()
        .map(|e| (e.index, e.code.as_str()))
        .collect();
    assert_eq!(
        codes,
        [
            (1, "unknown_entity"),
            (2, "not_finite"),
            (3, "wrong_unit"),
            (5, "out_of_order")
        ]
    );
    assert_eq!(ack.errors[2].field, "observations[3].unit");
    // Read your writes.
    let t1 = c
        .get_entity(pb::GetEntityRequest {
            id: "sensor/t1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(t1.readings[0].value, number(22.0));
    // History holds the out-of-order sample too.
    let h = c
        .get_history(pb::GetHistoryRequest {
            id: "sensor/t1".into(),
            measurand: "temperature".into(),
            from_ms: 0,
            to_ms: 10_000,
            resolution: pb::Resolution::Raw as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let times: Vec<i64> = h.samples.iter().map(|s| s.time_ms).collect();
    assert_eq!(times, [1_500, 2_000]);
    let events = c
        .list_events(pb::ListEventsRequest {
            entity: "sensor/t0".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        events
            .events
            .iter()
            .any(|e| e.r#type == pb::EventType::Created as i32)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_needs_a_valid_token_but_health() {
    let f = fixture(LimitConfig::default()).await;
    for token in [None, Some("wrong")] {
        let c = client(&f, token).await;
        let answers = call_every_method(&c).await;
        assert_eq!(answers.len(), 23);
        for (method, answer) in answers {
            let e = answer.unwrap_err();
            assert_eq!(e.code(), Code::Unauthenticated, "{method} with {token:?}");
        }
    }
    let channel = Channel::from_shared(format!("http://{}", f.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "twin.v1.Twin".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    // Work orders are empty, and say why.
    let mut c = client(&f, Some("other")).await;
    let w = c
        .list_work_orders(pb::ListWorkOrdersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(w.work_orders.is_empty() && w.empty_reason.contains("planner"));
    let e = c.pause(pb::Empty {}).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_answer_resource_exhausted_naming_the_limit() {
    let f = fixture(LimitConfig {
        max_message_bytes: 2_000,
        max_batch: 10,
        max_obs_per_s: 25.0,
        ..LimitConfig::default()
    })
    .await;
    let mut c = client(&f, Some(TOKEN)).await;
    let send = |n: usize, t0: i64| pb::IngestRequest {
        batch_id: n as u64,
        durable: false,
        observations: (0..n)
            .map(|i| obs("sensor/t0", t0 + i as i64, "temperature", 20.0))
            .collect(),
    };
    let first = |c: &mut Client, batch: pb::IngestRequest| {
        let mut c = c.clone();
        async move {
            match c.ingest(tokio_stream::iter(vec![batch])).await {
                Err(e) => Err(e),
                Ok(r) => r.into_inner().message().await.map(|m| m.unwrap()),
            }
        }
    };
    let e = first(&mut c, send(11, 0)).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(e.message().contains("batch size limit"), "{}", e.message());
    let big = pb::IngestRequest {
        observations: vec![pb::Observation {
            entity: "sensor/t0".repeat(300),
            ..obs("", 0, "temperature", 1.0)
        }],
        ..Default::default()
    };
    let e = first(&mut c, big).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(
        e.message().contains("message size limit"),
        "{}",
        e.message()
    );
    assert!(first(&mut c, send(10, 100)).await.is_ok());
    assert!(first(&mut c, send(10, 200)).await.is_ok());
    let e = first(&mut c, send(10, 300)).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(e.message().contains("rate limit"), "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_never_reads_does_not_slow_ingest_and_is_told_it_lagged() {
    let f = fixture(LimitConfig::default()).await;
    // A client with small HTTP/2 windows: what it does not read stays on
    // the server's side.
    let channel = Channel::from_shared(format!("http://{}", f.addr))
        .unwrap()
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect()
        .await
        .unwrap();
    let mut c = TwinClient::with_interceptor(
        channel,
        Bearer(Some(format!("Bearer {TOKEN}").parse().unwrap())),
    );
    let mut watch = c
        .watch_entities(pb::WatchRequest {
            filter: Some(pb::EntityFilter {
                ids: vec!["sensor/t0".into()],
                ..Default::default()
            }),
            types: vec![pb::EventType::StateChanged as i32],
        })
        .await
        .unwrap()
        .into_inner();
    // Never read while 500 batches of 100 go in (the bus holds 8 batches;
    // the stream's flow-control window a few dozen).
    let t0 = twin_core::EntityId::of(Kind::Sensor, "t0");
    for b in 0..500i64 {
        let batch = (0..100)
            .map(|i| {
                twin_core::Observation::number(
                    t0,
                    SimTime(10_000 + b * 100 + i),
                    Measurand::Temperature,
                    20.0 + ((b + i) % 7) as f64,
                )
            })
            .collect();
        let report = f.runtime.ingest(batch, false).await.unwrap();
        assert!(report.errors.is_empty());
    }
    let mut lagged = 0;
    let mut events = 0;
    while let Ok(Some(m)) =
        tokio::time::timeout(std::time::Duration::from_millis(500), watch.message())
            .await
            .map(|r| r.unwrap())
    {
        match m.message.unwrap() {
            pb::watch_response::Message::Lagged(l) => lagged += l.missed,
            pb::watch_response::Message::Events(e) => {
                assert!(e.events.iter().all(|e| e.entity == "sensor/t0"));
                events += e.events.len() as u64;
            }
        }
    }
    assert!(lagged > 0, "never told it lagged ({events} events)");
    assert_eq!(
        lagged + events,
        50_000,
        "every event is either delivered or counted missed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tls_round_trip() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (pem, key) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    let f = fixture_with(
        LimitConfig::default(),
        Some((pem.clone().into_bytes(), key.into_bytes())),
    )
    .await;
    let connect = |ca: Option<Vec<u8>>| twin_proto::client::Connect {
        url: format!("https://localhost:{}", f.addr.port()),
        token: Some(TOKEN.into()),
        ca_pem: ca,
        domain: Some("localhost".into()),
    };
    let mut c = connect(Some(pem.into_bytes())).connect().await.unwrap();
    let e = c
        .get_entity(pb::GetEntityRequest {
            id: "sensor/t0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(e.id, "sensor/t0");
    // Plain HTTP/2 to a TLS server gets nowhere.
    let plain = twin_proto::client::Connect {
        url: format!("http://{}", f.addr),
        token: Some(TOKEN.into()),
        ..Default::default()
    };
    match plain.connect().await {
        Err(_) => {}
        Ok(mut c) => assert!(
            c.get_entity(pb::GetEntityRequest {
                id: "sensor/t0".into()
            })
            .await
            .is_err()
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_services_to_a_client_with_a_token() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let f = fixture(LimitConfig::default()).await;
    let channel = Channel::from_shared(format!("http://{}", f.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let list = || {
        tokio_stream::iter(vec![ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        }])
    };
    let mut anonymous = ServerReflectionClient::new(channel.clone());
    assert_eq!(
        anonymous
            .server_reflection_info(list())
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let mut c = ServerReflectionClient::with_interceptor(
        channel,
        Bearer(Some(format!("Bearer {TOKEN}").parse().unwrap())),
    );
    let mut answers = c.server_reflection_info(list()).await.unwrap().into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(l)) = answer.message_response else {
        panic!("not a service list: {answer:?}");
    };
    let names: Vec<String> = l.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"twin.v1.Twin".to_string()), "{names:?}");
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_listed_and_watched_plans_and_work_orders_are_empty() {
    let f = fixture(LimitConfig::default()).await;
    let mut c = client(&f, Some(TOKEN)).await;
    let mut alerts = c
        .watch_alerts(pb::WatchAlertsRequest {
            min_severity: pb::Severity::Warning as i32,
            filter: None,
        })
        .await
        .unwrap()
        .into_inner();
    // Temperature above its critical limit (95 °C) long enough to alarm.
    let hot: Vec<pb::Observation> = (0..6)
        .map(|i| obs("sensor/t0", 1_000 * (i + 1), "temperature", 120.0))
        .collect();
    let mut acks = c
        .ingest(tokio_stream::iter(vec![pb::IngestRequest {
            batch_id: 1,
            observations: hot,
            durable: false,
        }]))
        .await
        .unwrap()
        .into_inner();
    assert!(acks.message().await.unwrap().unwrap().errors.is_empty());
    let listed = c
        .list_alerts(pb::ListAlertsRequest {
            min_severity: pb::Severity::Warning as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.alerts.len(), 1, "{listed:?}");
    assert_eq!(listed.alerts[0].entity, "sensor/t0");
    assert_eq!(listed.alerts[0].severity, pb::Severity::Critical as i32);
    let m = tokio::time::timeout(std::time::Duration::from_secs(5), alerts.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Some(pb::watch_response::Message::Events(batch)) = m.message else {
        panic!("{m:?}");
    };
    assert!(
        batch
            .events
            .iter()
            .all(|e| e.r#type == pb::EventType::AlertRaised as i32 && e.entity == "sensor/t0")
    );
    let plans = c
        .list_plans(pb::ListPlansRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(plans.plans.is_empty() && !plans.empty_reason.is_empty());
    assert_eq!(
        c.get_plan(pb::GetPlanRequest { id: "PL-1".into() })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        c.get_plan(pb::GetPlanRequest { id: "p1".into() })
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );
    assert_eq!(
        c.get_work_order(pb::GetWorkOrderRequest { id: "WO-1".into() })
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_read_error_is_an_error_not_an_unknown_entity() {
    let (f, control) = gated_fixture().await;
    // Passivate everything, so the machines live only in the store.
    f.runtime.tick(SimTime::hours(3)).await.unwrap();
    assert_eq!(f.runtime.resident().await.unwrap(), 0);
    let mut c = client(&f, Some(TOKEN)).await;
    control.fail_reads(true);
    let e = c
        .get_entity(pb::GetEntityRequest {
            id: "sensor/t0".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Internal, "{e:?}");
    assert!(e.message().contains("store"), "{}", e.message());
    let ack = ingest_one(&mut c, "sensor/t0", SimTime::hours(3)).await;
    assert_eq!(ack.errors.len(), 1);
    assert_eq!(ack.errors[0].code, "store_unavailable", "{:?}", ack.errors);
    control.fail_reads(false);
    let e = c
        .get_entity(pb::GetEntityRequest {
            id: "sensor/t0".into(),
        })
        .await
        .unwrap();
    assert_eq!(e.get_ref().id, "sensor/t0");
    let ack = ingest_one(&mut c, "sensor/t0", SimTime::hours(3)).await;
    assert!(ack.errors.is_empty(), "{:?}", ack.errors);
}

async fn ingest_one(c: &mut Client, id: &str, t: SimTime) -> pb::IngestAck {
    let batch = pb::IngestRequest {
        batch_id: 1,
        observations: vec![pb::Observation {
            entity: id.into(),
            time_ms: t.as_ms(),
            measurand: "temperature".into(),
            value: number(21.5),
            ..Default::default()
        }],
        durable: false,
    };
    let mut acks = c
        .ingest(tokio_stream::iter(vec![batch]))
        .await
        .unwrap()
        .into_inner();
    acks.message().await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_turns_not_serving_while_store_writes_stall() {
    use tonic_health::pb::health_check_response::ServingStatus;
    let (f, control) = gated_fixture().await;
    let channel = Channel::from_shared(format!("http://{}", f.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = |service: &str| {
        let mut health = health.clone();
        let service = service.to_string();
        async move {
            health
                .check(tonic_health::pb::HealthCheckRequest { service })
                .await
                .unwrap()
                .into_inner()
                .status
        }
    };
    let until = |want: ServingStatus| async move {
        for _ in 0..100 {
            if status("").await == want as i32 && status("twin.v1.Twin").await == want as i32 {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    };
    assert!(until(ServingStatus::Serving).await);
    control.hold_writes();
    let runtime = f.runtime.clone();
    let writer = tokio::spawn(async move { runtime.checkpoint().await });
    assert!(
        until(ServingStatus::NotServing).await,
        "health saw the stall"
    );
    // The held checkpoint writes without its shard's lock: reads of the
    // entities it is writing still answer.
    let reader = client(&f, Some(TOKEN)).await;
    for id in [
        "zone/hall",
        "machine/m0",
        "machine/m1",
        "sensor/t0",
        "sensor/t1",
    ] {
        let mut reader = reader.clone();
        let read = reader.get_entity(pb::GetEntityRequest { id: id.into() });
        let answer = tokio::time::timeout(std::time::Duration::from_secs(2), read).await;
        assert_eq!(
            answer
                .expect("answered during the checkpoint")
                .unwrap()
                .into_inner()
                .id,
            id
        );
    }
    control.release();
    writer.await.unwrap().unwrap();
    assert!(
        until(ServingStatus::Serving).await,
        "health saw the recovery"
    );
    let _ = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await;
}
