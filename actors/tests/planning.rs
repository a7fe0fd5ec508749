//! The maintenance planner hosted by the runtime: orders opened from RUL
//! estimates, placed on a technician who has the skill, within the shift,
//! one at a time, sent, closed when the machine runs again, cancelled when
//! the machine recovers, and carried over a restart. Real shard actors, a
//! real store on disk.

use twin_actors::{Runtime, RuntimeConfig};
use twin_core::store::{Retention, Store};
use twin_core::workorder::{OrderState, WorkOrder};
use twin_core::{
    Action, EntityId, EntityRecord, EventBody, Kind, KindState, Measurand, Observation, SimTime,
    Value,
};
use twin_plan::{Planners, Spec};

const ORIGIN: (f64, f64) = (4.85, 45.75);

fn planners() -> Planners {
    let spec: Spec = toml::from_str(
        r#"
planner = "maintenance"
params = { horizon_h = 72, repair_h = 3, shift = [6, 22], skills = { pump = "mechanical", motor = "electrical" }, crew = { mech = ["mechanical"], elec = ["electrical"] } }
"#,
    )
    .unwrap();
    Planners::new(&[spec]).unwrap()
}

fn config() -> RuntimeConfig {
    RuntimeConfig {
        workers: 2,
        planners: planners(),
        ..RuntimeConfig::default()
    }
}

fn machine(name: &str, subtype: &str) -> EntityRecord {
    EntityRecord::new(Kind::Machine, name, subtype)
        .with_state(KindState::Machine(Default::default()))
}

fn technician(name: &str) -> EntityRecord {
    EntityRecord::new(Kind::Vehicle, name, "technician").with_state(KindState::Vehicle(
        twin_core::state::VehicleState::new(twin_core::state::VehicleMode::Technician),
    ))
}

fn at(id: EntityId, east_m: f64, t: SimTime) -> Observation {
    let lon = ORIGIN.0 + east_m / (111_320.0 * ORIGIN.1.to_radians().cos());
    Observation::number(id, t, Measurand::Position, 0.0)
        .with_value(Value::Point { lon, lat: ORIGIN.1 })
}

fn rul(id: EntityId, h: f64, t: SimTime) -> Observation {
    Observation::number(id, t, Measurand::Rul, 0.0).with_value(Value::interval(h, h * 0.6, h * 1.4))
}

fn status(id: EntityId, s: &str, t: SimTime) -> Observation {
    Observation::number(id, t, Measurand::Status, 0.0).with_value(Value::text(s))
}

fn orders(rt: &Runtime) -> Vec<WorkOrder> {
    rt.board().work_orders.to_vec()
}

fn of(orders: &[WorkOrder], m: EntityId) -> WorkOrder {
    orders
        .iter()
        .rev()
        .find(|o| o.machine == m)
        .cloned()
        .unwrap_or_else(|| panic!("no order on {m}: {orders:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_from_rul_scheduled_sent_done_cancelled_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Retention::default()).unwrap();
    let rt = Runtime::start(config(), Some(store)).unwrap();
    let (pump1, pump2, motor) = (
        machine("pump-1", "pump"),
        machine("pump-2", "pump"),
        machine("motor-1", "motor"),
    );
    let (mech, elec) = (technician("mech"), technician("elec"));
    let ids: Vec<EntityId> = [&pump1, &pump2, &motor, &mech, &elec]
        .iter()
        .map(|r| r.id())
        .collect();
    let (p1, p2, m1, tm, te) = (ids[0], ids[1], ids[2], ids[3], ids[4]);
    rt.create(vec![pump1, pump2, motor, mech, elec], SimTime::ZERO)
        .await
        .unwrap();
    // Day 1, 02:00: everything placed and running, three machines wearing.
    let t0 = SimTime::days(1) + SimTime::hours(2);
    let mut obs = vec![
        at(p1, 100.0, t0),
        at(p2, 200.0, t0),
        at(m1, 300.0, t0),
        at(tm, 0.0, t0),
        at(te, 0.0, t0),
    ];
    for m in [p1, p2, m1] {
        obs.push(status(m, "running", t0));
    }
    rt.ingest(obs, false).await.unwrap();
    rt.ingest(
        vec![rul(p1, 30.0, t0), rul(p2, 50.0, t0), rul(m1, 40.0, t0)],
        false,
    )
    .await
    .unwrap();
    let report = rt.tick(t0).await.unwrap();
    let o = orders(&rt);
    assert_eq!(o.len(), 3, "{o:#?}");
    for order in &o {
        assert_eq!(order.state, OrderState::Scheduled, "{order:#?}");
        // Placed within the shift (06:00-22:00), so nothing was sent at 02:00.
        let start = order.start.unwrap();
        let hour = (start.as_ms() % 86_400_000) as f64 / 3_600_000.0;
        assert!((6.0..22.0).contains(&hour), "{order:#?} starts at {hour} h");
    }
    // The motor needs an electrician; the pumps a mechanic.
    assert_eq!(of(&o, m1).technician, Some(te));
    assert_eq!(of(&o, p1).technician, Some(tm));
    assert_eq!(of(&o, p2).technician, Some(tm));
    let (a, b) = (of(&o, p1), of(&o, p2));
    let (first, second) = if a.start < b.start { (a, b) } else { (b, a) };
    assert!(first.start.unwrap() + first.duration <= second.start.unwrap());
    assert!(
        report.planned.iter().all(|c| matches!(
            c.action,
            Action::WorkOrder {
                state: OrderState::Open | OrderState::Scheduled,
                ..
            }
        )),
        "{:?}",
        report.planned
    );
    // 06:00: each technician sent to one order, never two.
    let t1 = SimTime::days(1) + SimTime::hours(6);
    let report = rt.tick(t1).await.unwrap();
    let o = orders(&rt);
    let sent: Vec<&WorkOrder> = o
        .iter()
        .filter(|o| o.state == OrderState::InProgress)
        .collect();
    assert_eq!(sent.len(), 2, "{o:#?}");
    assert_ne!(sent[0].technician, sent[1].technician);
    // The world is told which technician goes where.
    assert!(report.commands.iter().any(|c| c.entity == m1
        && matches!(
            c.action,
            Action::WorkOrder {
                state: OrderState::InProgress,
                technician: Some(t),
                ..
            } if t == te
        )));
    let waiting = o
        .iter()
        .find(|o| o.state == OrderState::Scheduled)
        .unwrap()
        .clone();
    // The waiting pump recovers (its RUL estimate rises well above the
    // horizon): its order is cancelled.
    let t2 = t1 + SimTime::minutes(30);
    rt.ingest(vec![rul(waiting.machine, 400.0, t2)], false)
        .await
        .unwrap();
    rt.tick(t2).await.unwrap();
    assert_eq!(
        of(&orders(&rt), waiting.machine).state,
        OrderState::Cancelled
    );
    // The motor is serviced: maintenance, then running again: done.
    let t3 = t2 + SimTime::hours(1);
    rt.ingest(vec![status(m1, "maintenance", t3)], false)
        .await
        .unwrap();
    rt.tick(t3).await.unwrap();
    assert_eq!(of(&orders(&rt), m1).state, OrderState::InProgress);
    let t4 = t3 + SimTime::hours(3);
    rt.ingest(vec![status(m1, "running", t4)], false)
        .await
        .unwrap();
    rt.tick(t4).await.unwrap();
    let done = of(&orders(&rt), m1);
    assert_eq!(done.state, OrderState::Done);
    let by: Vec<(OrderState, String)> = done
        .history
        .iter()
        .map(|t| (t.state, t.by.to_string()))
        .collect();
    assert_eq!(
        by,
        vec![
            (OrderState::Open, "planner".into()),
            (OrderState::Scheduled, "planner".into()),
            (OrderState::InProgress, "planner".into()),
            (OrderState::Done, te.to_string()),
        ]
    );
    // Every change went through the machine as an event.
    let log = rt
        .store()
        .unwrap()
        .events(SimTime::ZERO, t4 + SimTime::secs(1), 10_000)
        .unwrap();
    let changes = log
        .iter()
        .filter(|e| e.entity == m1 && matches!(e.body, EventBody::WorkOrderChanged { .. }))
        .count();
    assert_eq!(changes, 4, "{log:#?}");
    // A restart keeps the orders.
    let before = orders(&rt);
    rt.checkpoint().await.unwrap();
    rt.shutdown().await.unwrap();
    let store = Store::open(dir.path(), Retention::default()).unwrap();
    let rt = Runtime::start(config(), Some(store)).unwrap();
    assert_eq!(orders(&rt), before);
    rt.shutdown().await.unwrap();
}
