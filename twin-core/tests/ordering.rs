//! Property: whatever order observations arrive in, the current value is the
//! last one applied at the latest time, and exactly the late ones are reported
//! as out of order (kept for history, never applied).

use proptest::prelude::*;
use twin_core::state::{Ctx, InputError, SensorState, apply_observation};
use twin_core::{EntityRecord, Kind, KindState, Measurand, Observation, SimTime};

proptest! {
    #[test]
    fn the_latest_observation_wins(arrivals in prop::collection::vec((0i64..50, -40.0f64..80.0), 1..60)) {
        let mut rec = EntityRecord::new(Kind::Sensor, "prop-t", "temperature").with_state(
            KindState::Sensor(SensorState::measuring(&[Measurand::Temperature], SimTime::secs(1))),
        );
        let id = rec.id();
        let (mut events, mut commands) = (Vec::new(), Vec::new());
        let mut latest: Option<(i64, f64)> = None;
        for (t, v) in &arrivals {
            let obs = Observation::number(id, SimTime::secs(*t), Measurand::Temperature, *v);
            let mut ctx = Ctx::new(id, obs.time, &mut events, &mut commands);
            let result = apply_observation(&mut rec.common, &mut rec.state, &obs, &mut ctx);
            let late = latest.is_some_and(|(lt, _)| *t < lt);
            prop_assert_eq!(matches!(result, Err(InputError::OutOfOrder { .. })), late);
            prop_assert!(late || result.is_ok(), "{:?}", result);
            if !late {
                latest = Some((*t, *v));
            }
        }
        let reading = rec.common.readings.get(Measurand::Temperature).unwrap();
        let (t, v) = latest.unwrap();
        prop_assert_eq!(reading.time, SimTime::secs(t));
        prop_assert_eq!(reading.value.as_f64(), Some(v));
    }
}
