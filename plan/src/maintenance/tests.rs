//! The maintenance planner on events handed to it directly.

use std::sync::Arc;

use twin_core::Event;

use super::*;
use crate::schedule::Recorded;

fn planner() -> Box<dyn Planner> {
    let spec: Spec = toml::from_str("planner = \"maintenance\"").unwrap();
    build(&spec).unwrap()
}

fn see(
    p: &mut dyn Planner,
    entity: EntityId,
    attached: Option<EntityId>,
    t: SimTime,
    body: EventBody,
) {
    let event = Event {
        time: t,
        entity,
        body,
    };
    p.observe(&Seen {
        event: &event,
        subtype: if entity.kind() == Kind::Machine {
            "pump"
        } else {
            "accelerometer"
        },
        place: Some((4.85, 45.75)),
        attached_to: attached,
        fed_by: None,
        area_m2: None,
    });
}

fn anomaly(score: f64) -> EventBody {
    EventBody::AnomalyDetected {
        measurand: Measurand::VibrationRms,
        score,
        model: Arc::from("anomaly/1"),
    }
}

/// Anomalies on two of a machine's series within a day: an order only
/// when its RUL does not say it is far from its end.
#[test]
fn corroborated_anomalies_open_an_order_unless_the_rul_is_far() {
    for (rul, expected) in [(None, 1), (Some(120.0), 0), (Some(100.0), 1)] {
        let mut p = planner();
        let m = EntityId::new(Kind::Machine, "pump-1");
        let (a, b) = (
            EntityId::new(Kind::Sensor, "a"),
            EntityId::new(Kind::Sensor, "b"),
        );
        let t = SimTime::hours(10);
        see(
            &mut *p,
            m,
            None,
            t,
            EventBody::StateChanged {
                measurand: Measurand::Status,
                value: Value::text("running"),
            },
        );
        if let Some(h) = rul {
            see(
                &mut *p,
                m,
                None,
                t,
                EventBody::StateChanged {
                    measurand: Measurand::Rul,
                    value: Value::interval(h, h * 0.6, h * 1.4),
                },
            );
        }
        see(&mut *p, a, Some(m), t, anomaly(0.8));
        let mut out = Vec::new();
        p.step(t, &mut Recorded(Default::default()), &mut out);
        assert!(p.work_orders().is_empty(), "one series is not enough");
        see(&mut *p, b, Some(m), t + SimTime::hours(2), anomaly(0.9));
        p.step(
            t + SimTime::hours(2),
            &mut Recorded(Default::default()),
            &mut out,
        );
        let orders = p.work_orders();
        assert_eq!(orders.len(), expected, "RUL {rul:?}: {orders:?}");
        if let Some(o) = orders.first() {
            assert_eq!((o.trigger, o.priority), (Trigger::Anomaly, 3));
            assert_eq!(o.evidence.anomaly_score, Some(0.9));
        }
    }
}
