//! What every vehicle shares, whatever drives it: a position in local metres,
//! a speed and a heading, moved towards a target, and the GPS channels that
//! report them.

use bevy_ecs::prelude::*;
use twin_core::{EntityId, Measurand, SimTime};

use super::build::{Builder, Local};
use crate::sensor::{Channel, Reading, Truth};
use crate::spec::ScenarioError;

/// Truth slots of every vehicle.
pub const LON: u8 = 0;
pub const SPEED: u8 = 2;
pub const HEADING: u8 = 3;
/// The first slot a vehicle type may use for its own truths.
pub const FREE: u8 = 4;

#[derive(Component, Clone, Copy, Debug, Default)]
pub struct Mover {
    /// Metres east and north of the region centre.
    pub x: f64,
    pub y: f64,
    pub speed_kmh: f64,
    pub heading_deg: f64,
}

impl Mover {
    pub fn at(x: f64, y: f64) -> Mover {
        Mover {
            x,
            y,
            ..Mover::default()
        }
    }

    /// Moves towards (x, y) at `speed_kmh` for `dt`; returns whether it arrived.
    pub fn towards(&mut self, x: f64, y: f64, speed_kmh: f64, dt: SimTime) -> bool {
        let (dx, dy) = (x - self.x, y - self.y);
        let d = dx.hypot(dy);
        let step = speed_kmh / 3.6 * dt.as_secs_f64();
        if d <= step || d < 1e-9 {
            self.x = x;
            self.y = y;
            self.speed_kmh = if d < 1e-9 {
                0.0
            } else {
                speed_kmh * d / step.max(1e-9)
            };
            return true;
        }
        self.x += dx / d * step;
        self.y += dy / d * step;
        self.speed_kmh = speed_kmh;
        // Compass heading: 0 north, 90 east.
        self.heading_deg = dx.atan2(dy).to_degrees().rem_euclid(360.0);
        false
    }

    pub fn stop(&mut self) {
        self.speed_kmh = 0.0;
    }

    pub fn write(&self, local: &Local, truth: &mut Truth) {
        let (lon, lat) = local.lonlat(self.x, self.y);
        truth.0[LON as usize] = lon;
        truth.0[LON as usize + 1] = lat;
        truth.0[SPEED as usize] = self.speed_kmh;
        truth.0[HEADING as usize] = self.heading_deg;
    }
}

/// Position, speed and heading of vehicle `id` through GPS model `gps`.
pub fn gps_channels(
    b: &mut Builder,
    id: EntityId,
    gps: &str,
) -> Result<Vec<Channel>, ScenarioError> {
    // Speed and heading come from the receiver's velocity model, if any.
    let velocity = b
        .scenario
        .spec
        .sensors
        .get(gps)
        .and_then(|m| m.velocity.as_ref())
        .map_or_else(|| gps.to_string(), |v| v.get_ref().clone());
    Ok(vec![
        b.channel(id, Measurand::Position, Reading::Point(LON), gps)?,
        b.channel(id, Measurand::Speed, Reading::Number(SPEED), &velocity)?,
        b.channel(id, Measurand::Heading, Reading::Number(HEADING), &velocity)?,
    ])
}

/// The region's local frame, as a resource for the systems that move things.
#[derive(Resource, Clone, Copy, Debug)]
pub struct Frame(pub Local);

/// Where every moving thing truly is now: (entity, lon, lat).
pub fn positions(world: &mut World) -> Vec<(EntityId, f64, f64)> {
    let mut q = world.query_filtered::<(&super::Twin, &Truth), With<Mover>>();
    q.iter(world)
        .map(|(t, truth)| (t.0, truth.0[LON as usize], truth.0[LON as usize + 1]))
        .collect()
}
