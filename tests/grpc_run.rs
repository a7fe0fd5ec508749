//! `twin run` serving twin.v1: a real client drives the simulation of a
//! running scenario (pause, step, resume, speed, commands).

use std::ffi::OsStr;
use std::time::Duration;

use tonic::transport::Channel;
use twin_proto::v1 as pb;
use twin_proto::v1::twin_client::TwinClient;

mod common;
use common::{Run, req};

/// Starts `twin run` on the city and returns it with its gRPC address.
fn start() -> (Run, String) {
    start_on(&["--scenario", "city", "--scale", "0.3", "--clock", "x600"])
}

/// Starts `twin run` with `args`, in memory, for ever, serving gRPC.
fn start_on(args: &[&str]) -> (Run, String) {
    let mut all: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    all.push(OsStr::new("--ephemeral"));
    common::spawn_run(&all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_pauses_steps_and_resumes_a_running_scenario() {
    let (_run, addr) = start();
    let channel = Channel::from_shared(addr).unwrap().connect().await.unwrap();
    let mut c = TwinClient::new(channel);
    let s = c
        .get_simulation(req(pb::Empty {}))
        .await
        .unwrap()
        .into_inner();
    assert!(
        s.simulated && s.scenario == "city" && s.clock == "x600",
        "{s:?}"
    );

    let paused = c.pause(req(pb::Empty {})).await.unwrap().into_inner();
    assert!(paused.paused);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t1 = c
        .get_simulation(req(pb::Empty {}))
        .await
        .unwrap()
        .into_inner()
        .time_ms;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t2 = c
        .get_simulation(req(pb::Empty {}))
        .await
        .unwrap()
        .into_inner()
        .time_ms;
    assert_eq!(t1, t2, "paused time moved");

    let stepped = c
        .step(req(pb::StepRequest {
            duration_ms: 600_000,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stepped.time_ms, t2 + 600_000);

    // Commands go through the loop to the world: a taxi is sent somewhere.
    let taxis = c
        .list_entities(req(pb::ListEntitiesRequest {
            filter: Some(pb::EntityFilter {
                subtypes: vec!["taxi".into()],
                ..Default::default()
            }),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let taxi = taxis.entities[0].id.clone();
    let sent = c
        .send_commands(req(pb::SendCommandsRequest {
            commands: vec![
                pb::Command {
                    entity: taxi.clone(),
                    time_ms: 0,
                    action: Some(pb::command::Action::SetDesired(pb::SetDesired {
                        measurand: "destination".into(),
                        value: Some(pb::Value {
                            kind: Some(pb::value::Kind::Point(pb::Point {
                                lon: 4.85,
                                lat: 45.76,
                            })),
                        }),
                    })),
                },
                pb::Command {
                    entity: "vehicle/nobody".into(),
                    time_ms: 0,
                    action: Some(pb::command::Action::BeginMaintenance(pb::Empty {})),
                },
            ],
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent.applied, 1);
    assert_eq!(sent.errors[0].index, 1);
    let t = c
        .get_entity(req(pb::GetEntityRequest { id: taxi }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(t.controls[0].measurand, "destination");

    let resumed = c.resume(req(pb::Empty {})).await.unwrap().into_inner();
    assert!(!resumed.paused);
    let fast = c
        .set_speed(req(pb::SetSpeedRequest {
            clock: "max".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fast.clock, "max");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = c
        .get_simulation(req(pb::Empty {}))
        .await
        .unwrap()
        .into_inner();
    assert!(later.time_ms > stepped.time_ms + 600_000, "{later:?}");
    let e = c
        .set_speed(req(pb::SetSpeedRequest { clock: "x0".into() }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    // A factor so small that the wait before the next tick overflows a
    // Duration is refused, naming the range, and the run goes on.
    let e = c
        .set_speed(req(pb::SetSpeedRequest {
            clock: "x1e-20".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("between"), "{}", e.message());
    let e = c
        .step(req(pb::StepRequest {
            duration_ms: 1 << 62,
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{}", e.message());
    let still = c
        .get_simulation(req(pb::Empty {}))
        .await
        .unwrap()
        .into_inner();
    assert!(still.time_ms >= later.time_ms, "{still:?}");
    let e = c
        .step(req(pb::StepRequest { duration_ms: 1_000 }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{}", e.message());

    // Another world, from now on.
    let names = c
        .list_scenarios(req(pb::Empty {}))
        .await
        .unwrap()
        .into_inner()
        .names;
    assert!(names.contains(&"factory".to_string()), "{names:?}");
    let loaded = c
        .load_scenario(req(pb::LoadScenarioRequest {
            name: "factory".into(),
            seed: 3,
            scale: 0.2,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(loaded.scenario, "factory");
    let pumps = c
        .list_entities(req(pb::ListEntitiesRequest {
            filter: Some(pb::EntityFilter {
                subtypes: vec!["pump".into()],
                ..Default::default()
            }),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(!pumps.entities.is_empty());
    let e = c
        .load_scenario(req(pb::LoadScenarioRequest {
            name: "moon-base".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("farm-cocoa"), "{}", e.message());
    // A path outside any scenario directory is refused without reading it,
    // and a scale that would build the world until memory runs out is
    // refused before building; the server goes on answering.
    for name in ["/etc/passwd", "../../../../etc/passwd"] {
        let e = c
            .load_scenario(req(pb::LoadScenarioRequest {
                name: name.into(),
                ..Default::default()
            }))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{}", e.message());
        assert!(e.message().starts_with("name: "), "{}", e.message());
        assert!(!e.message().contains("root:"), "{}", e.message());
    }
    let e = c
        .load_scenario(req(pb::LoadScenarioRequest {
            name: "factory".into(),
            scale: 1e12,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{}", e.message());
    assert!(e.message().contains("over the limit"), "{}", e.message());
    let still = c
        .get_simulation(req(pb::Empty {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(still.scenario, "factory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garden_run_plans_its_watering_and_reminds_the_gardener() {
    let (_run, addr) = start_on(&["--scenario", "garden", "--clock", "x1"]);
    let channel = Channel::from_shared(addr).unwrap().connect().await.unwrap();
    let mut c = TwinClient::new(channel);
    c.pause(req(pb::Empty {})).await.unwrap();
    let mut watch = c
        .watch_alerts(req(pb::WatchAlertsRequest {
            min_severity: pb::Severity::Info as i32,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    c.step(req(pb::StepRequest {
        duration_ms: 3 * 86_400_000,
    }))
    .await
    .unwrap();
    let plans = c
        .list_plans(req(pb::ListPlansRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(!plans.plans.is_empty(), "{:?}", plans.empty_reason);
    let watered: Vec<&pb::Plan> = plans.plans.iter().filter(|p| p.water_mm > 0.0).collect();
    assert!(!watered.is_empty(), "{plans:?}");
    for p in &watered {
        assert_eq!(p.r#type, "irrigation");
        assert!(p.entity.starts_with("parcel/"), "{p:?}");
        assert!(p.reason.contains("soil"), "{}", p.reason);
        assert!(p.end_ms > p.start_ms, "{p:?}");
        // Its valve was opened, and it reminded the gardener.
        let opened = p.commands.iter().any(|c| {
            c.entity == p.entity
                && matches!(&c.action, Some(pb::command::Action::SetDesired(s))
                    if s.measurand == "valve_opening")
        });
        let reminded = p.commands.iter().any(|c| {
            matches!(&c.action, Some(pb::command::Action::Remind(r)) if r.message.contains("water"))
        });
        assert!(opened && reminded, "{p:?}");
    }
    let one = c
        .get_plan(req(pb::GetPlanRequest {
            id: watered[0].id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.id, watered[0].id);
    let bed = c
        .list_plans(req(pb::ListPlansRequest {
            entity: watered[0].entity.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(bed.plans.iter().all(|p| p.entity == watered[0].entity));
    let done = c
        .list_plans(req(pb::ListPlansRequest {
            state: pb::PlanState::Done as i32,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(done.plans.iter().all(|p| p.state() == pb::PlanState::Done));
    for bad in [
        pb::GetPlanRequest { id: "PL-x".into() },
        pb::GetPlanRequest { id: "WO-1".into() },
    ] {
        let e = c.get_plan(req(bad)).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{}", e.message());
    }
    let e = c
        .get_plan(req(pb::GetPlanRequest {
            id: "PL-999999".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    let e = c
        .list_plans(req(pb::ListPlansRequest {
            r#type: "harvest".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert!(e.message().contains("type"), "{}", e.message());
    // The reminders reached a watching client as informational alerts.
    let reminder = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(m) = watch.message().await.unwrap() {
            let Some(pb::watch_response::Message::Events(batch)) = m.message else {
                continue;
            };
            for e in batch.events {
                if e.severity == pb::Severity::Info as i32 && e.measurand == "irrigation" {
                    return e;
                }
            }
        }
        panic!("the watch ended");
    })
    .await
    .expect("a reminder within 20 s");
    assert!(reminder.message.contains("water"), "{reminder:?}");
}
