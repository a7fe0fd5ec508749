//! Work orders as a gRPC client sees them: listed and read by any role,
//! changed (cancelled) only by a `write` token, the planner taking the
//! operator's change; bad ids refused by field.

mod support;

use support::*;
use twin_core::{EntityId, Kind, Measurand, Observation, SimTime, Value};
use twin_plan::{Planners, Spec};
use twin_proto::v1 as pb;

fn planners() -> Planners {
    let spec: Spec = toml::from_str(
        r#"planner = "maintenance"
           params = { horizon_h = 72 }"#,
    )
    .unwrap();
    Planners::new(&[spec]).unwrap()
}

fn cancel(id: &str) -> pb::SendCommandsRequest {
    pb::SendCommandsRequest {
        commands: vec![pb::Command {
            entity: "machine/m0".into(),
            time_ms: 0,
            action: Some(pb::command::Action::WorkOrder(pb::WorkOrderChange {
                id: id.into(),
                state: pb::WorkOrderState::Cancelled as i32,
                technician: String::new(),
            })),
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_orders_are_read_by_any_role_and_changed_by_writers() {
    let f = fixture_with_planners(planners()).await;
    let m0 = EntityId::new(Kind::Machine, "m0");
    let t = SimTime::hours(30);
    f.runtime
        .ingest(
            vec![
                Observation::number(m0, t, Measurand::Status, 0.0)
                    .with_value(Value::text("running")),
                Observation::number(m0, t, Measurand::Rul, 0.0)
                    .with_value(Value::interval(20.0, 12.0, 30.0)),
            ],
            false,
        )
        .await
        .unwrap();
    f.runtime.tick(t).await.unwrap();

    let mut reader = client(&f, Some(READER)).await;
    let list = reader
        .list_work_orders(pb::ListWorkOrdersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.work_orders.len(), 1, "{list:?}");
    let o = &list.work_orders[0];
    assert_eq!(o.machine, "machine/m0");
    // No technician known: it waits, open.
    assert_eq!(o.state(), pb::WorkOrderState::Open);
    assert_eq!(o.trigger, "rul");
    assert_eq!(
        (o.rul_h, o.rul_low_h, o.rul_high_h),
        (Some(20.0), Some(12.0), Some(30.0))
    );
    assert_eq!(o.priority, 1, "the interval's low end is within a day");
    let got = reader
        .get_work_order(pb::GetWorkOrderRequest { id: o.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(&got, o);
    let bad = reader
        .get_work_order(pb::GetWorkOrderRequest { id: "WO-x".into() })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().contains("id"), "{bad:?}");
    let none = reader
        .get_work_order(pb::GetWorkOrderRequest { id: "WO-99".into() })
        .await
        .unwrap_err();
    assert_eq!(none.code(), tonic::Code::NotFound);
    // Filters: by state and machine.
    let done = reader
        .list_work_orders(pb::ListWorkOrdersRequest {
            state: pb::WorkOrderState::Done as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(done.work_orders.is_empty() && !done.empty_reason.is_empty());
    let bad_filter = reader
        .list_work_orders(pb::ListWorkOrdersRequest {
            machine: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_filter.code(), tonic::Code::InvalidArgument);

    // A reader cannot change it.
    let denied = reader.send_commands(cancel(&o.id)).await.unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    f.runtime.tick(t + SimTime::minutes(1)).await.unwrap();
    assert_eq!(
        f.runtime.board().work_orders[0].state,
        twin_core::workorder::OrderState::Open
    );

    // A writer can: the planner takes the operator's cancellation.
    let mut writer = client(&f, Some(WRITER)).await;
    let bad_state = writer
        .send_commands(pb::SendCommandsRequest {
            commands: vec![pb::Command {
                action: Some(pb::command::Action::WorkOrder(pb::WorkOrderChange {
                    id: o.id.clone(),
                    state: 42,
                    technician: String::new(),
                })),
                ..cancel(&o.id).commands[0].clone()
            }],
        })
        .await;
    let refused = match bad_state {
        Ok(r) => r.into_inner().errors,
        Err(s) => panic!("{s:?}"),
    };
    assert!(
        refused
            .iter()
            .any(|e| e.field.ends_with("work_order.state")),
        "{refused:?}"
    );
    let applied = writer
        .send_commands(cancel(&o.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(applied.applied, 1, "{applied:?}");
    f.runtime.tick(t + SimTime::minutes(2)).await.unwrap();
    let o = reader
        .get_work_order(pb::GetWorkOrderRequest { id: o.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(o.state(), pb::WorkOrderState::Cancelled);
    assert_eq!(o.history.last().unwrap().by, "operator");
}

/// The next event a watch delivers, within 10 s.
async fn next_event(watch: &mut tonic::Streaming<pb::WatchResponse>) -> pb::Event {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let m = watch.message().await.unwrap().expect("the watch goes on");
            if let Some(pb::watch_response::Message::Events(b)) = m.message
                && let Some(e) = b.events.into_iter().next()
            {
                return e;
            }
        }
    })
    .await
    .expect("an event within 10 s")
}

fn remind(measurand: &str, message: &str) -> pb::SendCommandsRequest {
    pb::SendCommandsRequest {
        commands: vec![pb::Command {
            entity: "machine/m0".into(),
            time_ms: 0,
            action: Some(pb::command::Action::Remind(pb::Remind {
                measurand: measurand.into(),
                message: message.into(),
            })),
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_is_an_informational_alert_watched_and_bad_ones_are_refused_by_field() {
    let f = fixture(Default::default()).await;
    let mut reader = client(&f, Some(READER)).await;
    let mut watch = reader
        .watch_alerts(pb::WatchAlertsRequest {
            min_severity: pb::Severity::Info as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let denied = reader
        .send_commands(remind("temperature", "check the seal"))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);

    let mut writer = client(&f, Some(WRITER)).await;
    let long = "x".repeat(twin_core::Action::MAX_MESSAGE + 1);
    for (req, field) in [
        (remind("temperature", &long), "remind.message"),
        (remind("loudness", "check"), "remind.measurand"),
    ] {
        let refused = writer.send_commands(req).await.unwrap().into_inner();
        assert_eq!(refused.applied, 0);
        assert!(
            refused.errors.iter().any(|e| e.field.ends_with(field)),
            "{refused:?}"
        );
    }
    let sent = writer
        .send_commands(remind("temperature", "check the seal"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent.applied, 1, "{sent:?}");
    let event = next_event(&mut watch).await;
    assert_eq!(event.r#type, pb::EventType::AlertRaised as i32);
    assert_eq!(event.severity, pb::Severity::Info as i32);
    assert_eq!(
        (event.entity.as_str(), event.message.as_str()),
        ("machine/m0", "check the seal")
    );
    // Cleared by an empty message.
    writer
        .send_commands(remind("temperature", ""))
        .await
        .unwrap();
    let cleared = next_event(&mut watch).await;
    assert_eq!(cleared.r#type, pb::EventType::AlertCleared as i32);
}
