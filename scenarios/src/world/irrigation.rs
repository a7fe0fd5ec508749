//! Irrigation: pumps feed the parcels they serve, each through its own
//! valve.
//!
//! A parcel gets the pump's rate times its valve's opening while the pump
//! runs. Valves start open, so a pump switched on alone waters every
//! parcel it serves; a planner that wants one parcel opens that valve and
//! closes the others. The world reports a pump's state and a valve's
//! opening when they change, and, when a parcel's watering ends, the depth
//! it received (`irrigation`, mm). It counts the water each parcel got,
//! for the scoring of irrigation policies.

use bevy_ecs::prelude::*;
use twin_core::{Action, Command, Measurand, Observation, Value};

use super::{SimClock, Twin};
use crate::sensor::Outbox;

#[derive(Component)]
pub struct Pump {
    pub on: bool,
    /// Water it puts on each open parcel, mm per hour.
    pub mm_per_hour: f64,
    pub served: Vec<Entity>,
    announced: Option<bool>,
}

impl Pump {
    pub fn new(mm_per_hour: f64, served: Vec<Entity>) -> Pump {
        Pump {
            on: false,
            mm_per_hour,
            served,
            announced: None,
        }
    }
}

/// A parcel's valve, and the water that went through it.
#[derive(Component)]
pub struct Valve {
    /// 0 closed to 1 open.
    pub opening: f64,
    announced: Option<f64>,
    /// Water applied now, mm per hour.
    pub mm_h: f64,
    /// Depth of the watering under way, mm.
    running_mm: f64,
    area_m2: f64,
    /// Water applied since the start, m³.
    pub water_m3: f64,
}

impl Valve {
    pub fn new(area_m2: f64) -> Valve {
        Valve {
            opening: 1.0,
            announced: None,
            mm_h: 0.0,
            running_mm: 0.0,
            area_m2,
            water_m3: 0.0,
        }
    }
}

/// Pumps put water through the valves of the parcels they serve; what
/// changed is reported.
pub fn pumps(
    clock: Res<SimClock>,
    mut outbox: ResMut<Outbox>,
    mut pumps: Query<(&Twin, &mut Pump)>,
    mut valves: Query<(&Twin, &mut Valve)>,
) {
    let now = clock.now;
    let dt = clock.hours();
    for (twin, mut pump) in &mut pumps {
        let rate = if pump.on { pump.mm_per_hour } else { 0.0 };
        for &p in &pump.served {
            let Ok((parcel, mut v)) = valves.get_mut(p) else {
                continue;
            };
            v.mm_h = rate * v.opening;
            if v.mm_h > 0.0 {
                v.running_mm += v.mm_h * dt;
                v.water_m3 += v.mm_h * dt * v.area_m2 / 1000.0;
            } else if v.running_mm > 0.0 {
                let depth = v.running_mm.min(Measurand::Irrigation.valid_range().1);
                v.running_mm = 0.0;
                outbox.push(
                    now,
                    now,
                    Observation::number(parcel.0, now, Measurand::Irrigation, depth),
                );
            }
            if v.announced != Some(v.opening) {
                v.announced = Some(v.opening);
                outbox.push(
                    now,
                    now,
                    Observation::number(parcel.0, now, Measurand::ValveOpening, v.opening * 100.0),
                );
            }
        }
        if pump.announced != Some(pump.on) {
            pump.announced = Some(pump.on);
            let obs = Observation::number(twin.0, now, Measurand::PumpOn, 0.0)
                .with_value(Value::Flag(pump.on));
            outbox.push(now, now, obs);
        }
    }
}

/// `pump_on` switches a pump; `valve_opening` (%) sets a parcel's valve.
pub fn command(world: &mut World, entity: Entity, cmd: &Command) -> bool {
    let Action::SetDesired { measurand, value } = &cmd.action else {
        return false;
    };
    match (measurand, value) {
        (Measurand::PumpOn, Value::Flag(on)) => match world.get_mut::<Pump>(entity) {
            Some(mut pump) => {
                pump.on = *on;
                true
            }
            None => false,
        },
        (Measurand::ValveOpening, Value::Number(pct)) => match world.get_mut::<Valve>(entity) {
            Some(mut v) => {
                v.opening = (pct / 100.0).clamp(0.0, 1.0);
                true
            }
            None => false,
        },
        _ => false,
    }
}
