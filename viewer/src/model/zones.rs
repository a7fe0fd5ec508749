//! District and parking figures: a district is coloured by the AQI of the
//! stations in it, or by how congested its traffic loops are; a parking
//! area by its occupancy. A zone's own reading wins when it has one;
//! otherwise the sensors that lie in it are averaged.

use std::collections::HashMap;

use super::Item;
use twin_core::aqi::from_pm25 as aqi_from_pm25;

/// Loop occupancy (percent of time a vehicle is over the loop) at which a
/// road is taken as jammed: flow breaks down past 20–25 %.
const CONGESTED_OCCUPANCY_PCT: f64 = 25.0;

/// Figures per zone (by item index), recomputed at most twice a second.
#[derive(Default)]
pub struct ZoneFigures {
    pub aqi: HashMap<usize, f64>,
    /// Loop occupancy over the congested level, averaged (0 free, 1 jammed).
    pub traffic: HashMap<usize, f64>,
    /// Parking occupancy, 0–1 (the runtime reports percent).
    pub occupancy: HashMap<usize, f64>,
    stale: bool,
    computed_at: f64,
    members: Option<HashMap<usize, Vec<usize>>>,
}

impl ZoneFigures {
    /// The entity set changed: membership is recomputed too.
    pub fn invalidate(&mut self) {
        self.members = None;
        self.stale = true;
    }

    /// Values changed.
    pub fn touch(&mut self) {
        self.stale = true;
    }

    pub fn refresh(&mut self, items: &[Item], index: &HashMap<String, usize>, now: f64) {
        if !self.stale || (self.members.is_some() && now - self.computed_at < 0.5) {
            return;
        }
        let members = self.members.get_or_insert_with(|| {
            let mut m: HashMap<usize, Vec<usize>> = HashMap::new();
            for (i, item) in items.iter().enumerate() {
                if let Some(z) = item.lies_in.as_ref().and_then(|z| index.get(z)) {
                    m.entry(*z).or_default().push(i);
                }
            }
            m
        });
        self.aqi.clear();
        self.traffic.clear();
        self.occupancy.clear();
        for (z, zone) in items.iter().enumerate() {
            if zone.kind != twin_proto::v1::Kind::Zone {
                continue;
            }
            let inside = members.get(&z).map(Vec::as_slice).unwrap_or_default();
            let mean = |f: &dyn Fn(&Item) -> Option<f64>| {
                let (s, n) = inside
                    .iter()
                    .filter_map(|&i| f(&items[i]))
                    .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
                (n > 0).then(|| s / n as f64)
            };
            let aqi = zone
                .number("aqi")
                .or_else(|| zone.number("pm25").map(aqi_from_pm25))
                .or_else(|| mean(&|i| i.number("pm25").map(aqi_from_pm25)));
            if let Some(a) = aqi {
                self.aqi.insert(z, a);
            }
            let traffic = mean(&|i| {
                (i.subtype == "traffic-loop")
                    .then(|| i.number("occupancy"))
                    .flatten()
                    .map(|o| (o / CONGESTED_OCCUPANCY_PCT).min(1.0))
            });
            if let Some(t) = traffic {
                self.traffic.insert(z, t);
            }
            if zone.zone_type == "parking"
                && let Some(o) = zone.number("occupancy")
            {
                self.occupancy.insert(z, (o / 100.0).clamp(0.0, 1.0));
            }
        }
        self.stale = false;
        self.computed_at = now;
    }
}
