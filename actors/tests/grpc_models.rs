//! What the twin's models write, as a gRPC client reads it: typed values
//! end to end, in the current state and in history, on a store on disk.

mod support;

use support::*;
use twin_core::state::SensorState;
use twin_core::{EntityRecord, Kind, KindState, Measurand, SimTime};
use twin_infer::models::{Models, Spec, no_files};
use twin_proto::v1 as pb;

const HOUR: i64 = 3_600_000;

fn forecasting() -> Models {
    let spec: Spec = toml::from_str(
        r#"model = "forecast"
           select = { subtypes = ["traffic-loop"], measurands = ["traffic_flow"] }"#,
    )
    .unwrap();
    Models::build(&[spec], &no_files).unwrap()
}

/// A loop's flow at minute `m`: a daily cycle.
fn flow(m: i64) -> f64 {
    let day = (m % 1440) as f64 / 1440.0;
    700.0 + 500.0 * (day * std::f64::consts::TAU).sin()
}

fn forecast_of(v: Option<&pb::Value>) -> &pb::Forecast {
    match v.and_then(|v| v.kind.as_ref()) {
        Some(pb::value::Kind::Forecast(f)) => f,
        other => panic!("not a forecast: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecasts_reach_a_client_typed_and_bad_ones_are_refused() {
    let f = fixture_with_models(forecasting()).await;
    let sensor =
        EntityRecord::new(Kind::Sensor, "loop-7", "traffic-loop").with_state(KindState::Sensor(
            SensorState::measuring(&[Measurand::TrafficFlow], SimTime::secs(600)),
        ));
    f.runtime.create(vec![sensor], SimTime::ZERO).await.unwrap();
    let mut c = client(&f, Some(TOKEN)).await;
    // Three days at one reading every ten minutes.
    let batches: Vec<pb::IngestRequest> = (0..3 * 24)
        .map(|h| pb::IngestRequest {
            batch_id: h as u64,
            observations: (0..6)
                .map(|k| {
                    let m = h * 60 + k * 10;
                    obs("sensor/loop-7", m * 60_000, "traffic_flow", flow(m))
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let mut acks = c
        .ingest(tokio_stream::iter(batches))
        .await
        .unwrap()
        .into_inner();
    while let Some(ack) = acks.message().await.unwrap() {
        assert!(ack.errors.is_empty(), "{:?}", ack.errors);
    }
    let e = c
        .get_entity(pb::GetEntityRequest {
            id: "sensor/loop-7".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let r = e
        .readings
        .iter()
        .find(|r| r.measurand == "traffic_flow_forecast")
        .expect("a forecast reading");
    assert!(r.provenance.starts_with("forecast/"), "{}", r.provenance);
    // Made at the start of the last hour (71 h), for 24 hours from there.
    assert_eq!(r.time_ms, 71 * HOUR);
    let fc = forecast_of(r.value.as_ref());
    assert_eq!((fc.points.len(), fc.step_ms), (24, HOUR));
    let truth = (71 * 60..72 * 60).map(flow).sum::<f64>() / 60.0;
    assert!(
        (fc.points[0].value - truth).abs() < 30.0,
        "{:?} vs {truth}",
        fc.points[0]
    );
    // One per hour in history, from the third day on.
    let h = c
        .get_history(pb::GetHistoryRequest {
            id: "sensor/loop-7".into(),
            measurand: "traffic_flow_forecast".into(),
            from_ms: 0,
            to_ms: 80 * HOUR,
            resolution: pb::Resolution::Raw as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!((15..=24).contains(&h.samples.len()), "{}", h.samples.len());
    assert!(
        h.samples
            .iter()
            .all(|s| forecast_of(s.typed.as_ref()).points.len() == 24)
    );
    // The contract says which measurand a forecast forecasts.
    let ms = c.get_measurands(pb::Empty {}).await.unwrap().into_inner();
    let info = ms
        .measurands
        .iter()
        .find(|m| m.name == "traffic_flow_forecast")
        .unwrap();
    assert_eq!(
        (info.value_type.as_str(), info.forecast_of.as_str()),
        ("forecast", "traffic_flow")
    );
    // A client's forecast is checked like any value.
    let point = |v: f64| pb::Estimate {
        value: v,
        low: v - 1.0,
        high: v + 1.0,
    };
    let bad = |step_ms: i64, points: Vec<pb::Estimate>| pb::Observation {
        value: Some(pb::Value {
            kind: Some(pb::value::Kind::Forecast(pb::Forecast { step_ms, points })),
        }),
        ..obs("sensor/loop-7", 80 * HOUR, "traffic_flow_forecast", 0.0)
    };
    let batch = pb::IngestRequest {
        batch_id: 99,
        observations: vec![
            bad(HOUR, vec![]),
            bad(0, vec![point(1.0)]),
            bad(HOUR, vec![point(1.0); 169]),
            bad(HOUR, vec![point(-50.0)]),
            bad(HOUR, vec![point(f64::NAN)]),
            pb::Observation {
                value: Some(pb::Value {
                    kind: Some(pb::value::Kind::Forecast(pb::Forecast {
                        step_ms: HOUR,
                        points: vec![point(1.0)],
                    })),
                }),
                ..obs("sensor/loop-7", 80 * HOUR, "traffic_flow", 0.0)
            },
        ],
        ..Default::default()
    };
    let mut acks = c
        .ingest(tokio_stream::iter(vec![batch]))
        .await
        .unwrap()
        .into_inner();
    let ack = acks.message().await.unwrap().unwrap();
    let codes: Vec<&str> = ack.errors.iter().map(|e| e.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "bad_forecast",
            "bad_forecast",
            "bad_forecast",
            "out_of_range",
            "not_finite",
            "wrong_type"
        ]
    );
    assert!(
        ack.errors[2].message.contains("169"),
        "{}",
        ack.errors[2].message
    );
}

/// Forecasts are some forty times the size of a number on the wire: a page
/// of them stops short of the response limit and the next one goes on
/// where it stopped, repeating and losing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_of_forecasts_is_paged_within_the_response_limit() {
    let max = 64 << 10;
    let f = fixture(twin_actors::grpc::LimitConfig {
        max_response_bytes: max,
        ..Default::default()
    })
    .await;
    let mut c = client(&f, Some(TOKEN)).await;
    let forecast = |t: i64| pb::Observation {
        value: Some(pb::Value {
            kind: Some(pb::value::Kind::Forecast(pb::Forecast {
                step_ms: HOUR,
                points: (0..24)
                    .map(|i| pb::Estimate {
                        value: 100.0 + i as f64,
                        low: 90.0,
                        high: 130.0,
                    })
                    .collect(),
            })),
        }),
        ..obs("zone/hall", t * HOUR, "traffic_flow_forecast", 0.0)
    };
    let batch = pb::IngestRequest {
        batch_id: 1,
        observations: (0..200).map(forecast).collect(),
        ..Default::default()
    };
    let mut acks = c
        .ingest(tokio_stream::iter(vec![batch]))
        .await
        .unwrap()
        .into_inner();
    assert!(acks.message().await.unwrap().unwrap().errors.is_empty());
    let (mut times, mut token, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let req = pb::GetHistoryRequest {
            id: "zone/hall".into(),
            measurand: "traffic_flow_forecast".into(),
            from_ms: 0,
            to_ms: 1_000 * HOUR,
            resolution: pb::Resolution::Raw as i32,
            page_token: token.clone(),
            ..Default::default()
        };
        let h = c.get_history(req).await.unwrap().into_inner();
        assert!(
            prost::Message::encoded_len(&h) <= max,
            "a page over the limit"
        );
        times.extend(h.samples.iter().map(|s| s.time_ms / HOUR));
        pages += 1;
        if h.next_page_token.is_empty() {
            break;
        }
        token = h.next_page_token;
    }
    assert!(pages >= 2, "{pages} page");
    assert_eq!(times, (0..200).collect::<Vec<i64>>());
}
