//! One entity as the map draws it: where it is (in projected world
//! coordinates, computed once), its status word and its latest numbers.
//! The full entity (controls, relations, every reading) is fetched only for
//! the one the inspector shows.

use twin_proto::v1 as pb;

use crate::projection::project;

/// A point in the Web-Mercator unit square.
pub type P = (f64, f64);

/// Where an entity is drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    None,
    Point(P),
    Polygon { ring: Vec<P>, centre: P },
    Circle { centre: P, radius_m: f64, lat: f64 },
}

impl Shape {
    fn from_pb(g: Option<&pb::Geometry>) -> Shape {
        use pb::geometry::Shape as G;
        match g.and_then(|g| g.shape.as_ref()) {
            Some(G::Point(p)) => Shape::Point(project(p.lon, p.lat)),
            Some(G::Polygon(poly)) if !poly.ring.is_empty() => {
                let ring: Vec<P> = poly.ring.iter().map(|p| project(p.lon, p.lat)).collect();
                let n = ring.len() as f64;
                let centre = ring
                    .iter()
                    .fold((0.0, 0.0), |a, p| (a.0 + p.0 / n, a.1 + p.1 / n));
                Shape::Polygon { ring, centre }
            }
            Some(G::Circle(c)) => {
                let centre = c.centre.unwrap_or_default();
                Shape::Circle {
                    centre: project(centre.lon, centre.lat),
                    radius_m: c.radius_m,
                    lat: centre.lat,
                }
            }
            _ => Shape::None,
        }
    }

    /// The point that stands for the shape (markers, aggregation, fit).
    pub fn anchor(&self) -> Option<P> {
        match self {
            Shape::None => None,
            Shape::Point(p) => Some(*p),
            Shape::Polygon { centre, .. } | Shape::Circle { centre, .. } => Some(*centre),
        }
    }
}

/// A move between two positions, drawn over the time between updates so
/// that vehicles glide rather than jump.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Motion {
    pub from: P,
    pub started: f64,
    pub duration: f64,
}

#[derive(Clone, Debug)]
pub struct Item {
    pub id: String,
    pub name: String,
    pub kind: pb::Kind,
    pub subtype: String,
    /// A zone's type ("district", "parking", "disease"…), empty otherwise.
    pub zone_type: String,
    pub shape: Shape,
    /// Machine status, sensor quality, vehicle status, zone alarm level or
    /// crop health: the word the runtime reports in status events.
    pub status: String,
    pub heading_deg: f64,
    /// Latest numbers by measurand (positions and texts are elsewhere).
    pub numbers: Vec<(String, f64)>,
    /// The zone it lies in, by id.
    pub lies_in: Option<String>,
    pub motion: Option<Motion>,
    /// Wall time of the last position update (seconds of the UI clock).
    pub moved_at: f64,
    /// Severity of its worst active alert, if any.
    pub alert: Option<i32>,
}

impl Item {
    pub fn from_pb(e: &pb::Entity) -> Item {
        let (status, zone_type) = crate::state_text::status_of(e);
        let mut item = Item {
            id: e.id.clone(),
            name: e.name.clone(),
            kind: e.kind(),
            subtype: e.subtype.clone(),
            zone_type,
            shape: Shape::from_pb(e.geometry.as_ref()),
            status,
            heading_deg: 0.0,
            numbers: Vec::new(),
            lies_in: e
                .relations
                .iter()
                .find(|r| r.r#type() == pb::RelationType::LiesIn)
                .map(|r| r.target.clone()),
            motion: None,
            moved_at: 0.0,
            alert: None,
        };
        for r in &e.readings {
            if let Some(v) = &r.value {
                item.set(&r.measurand, v, None);
            }
        }
        // A parcel's NDVI computed from its red and near-infrared bands is
        // kept in its state, not among its readings.
        if let Some(pb::entity::State::Parcel(p)) = &e.state
            && let Some(ndvi) = p.ndvi
            && item.number("ndvi").is_none()
        {
            item.numbers.push(("ndvi".into(), ndvi));
        }
        item
    }

    /// The latest number of a measurand.
    pub fn number(&self, measurand: &str) -> Option<f64> {
        self.numbers
            .iter()
            .find(|(m, _)| m == measurand)
            .map(|(_, v)| *v)
    }

    /// Applies a new value; `now` (UI seconds) animates a move from where
    /// the entity is drawn to the new position.
    pub fn set(&mut self, measurand: &str, value: &pb::Value, now: Option<f64>) {
        use pb::value::Kind as V;
        match (measurand, value.kind.as_ref()) {
            ("position", Some(V::Point(p))) => {
                let to = project(p.lon, p.lat);
                if let (Some(now), Some(from)) = (now, self.position(now.unwrap_or(0.0))) {
                    // Glide over the time since the last update, within reason.
                    let duration = (now - self.moved_at).clamp(0.2, 2.0);
                    self.motion = Some(Motion {
                        from,
                        started: now,
                        duration,
                    });
                    self.moved_at = now;
                }
                self.shape = Shape::Point(to);
            }
            ("heading", Some(V::Number(h))) => self.heading_deg = *h,
            (m, Some(V::Number(x))) => self.put(m, *x),
            (m, Some(V::Interval(e))) => self.put(m, e.value),
            (m, Some(V::Flag(f))) => self.put(m, f64::from(u8::from(*f))),
            _ => {}
        }
    }

    fn put(&mut self, measurand: &str, x: f64) {
        match self.numbers.iter_mut().find(|(m, _)| m == measurand) {
            Some(slot) => slot.1 = x,
            None => self.numbers.push((measurand.to_string(), x)),
        }
    }

    /// Where the entity is drawn at UI time `now`, between its last two
    /// positions while it moves.
    pub fn position(&self, now: f64) -> Option<P> {
        let to = self.shape.anchor()?;
        Some(match self.motion {
            Some(m) if now < m.started + m.duration => {
                let t = ((now - m.started) / m.duration).clamp(0.0, 1.0);
                (
                    m.from.0 + (to.0 - m.from.0) * t,
                    m.from.1 + (to.1 - m.from.1) * t,
                )
            }
            _ => to,
        })
    }

    /// Whether it is still gliding (the map keeps repainting while so).
    pub fn moving(&self, now: f64) -> bool {
        self.motion.is_some_and(|m| now < m.started + m.duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bus() -> pb::Entity {
        pb::Entity {
            id: "vehicle/bus-1".into(),
            kind: pb::Kind::Vehicle as i32,
            name: "bus-1".into(),
            subtype: "bus".into(),
            geometry: Some(pb::Geometry {
                shape: Some(pb::geometry::Shape::Point(pb::Point {
                    lon: 4.85,
                    lat: 45.75,
                })),
            }),
            state: Some(pb::entity::State::Vehicle(pb::VehicleState {
                status: pb::VehicleStatus::InService as i32,
                heading_deg: 90.0,
                ..Default::default()
            })),
            readings: vec![pb::Reading {
                measurand: "speed".into(),
                value: Some(pb::Value {
                    kind: Some(pb::value::Kind::Number(30.0)),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn an_entity_becomes_an_item_with_its_status_and_numbers() {
        let item = Item::from_pb(&bus());
        assert_eq!(item.status, "in_service");
        assert_eq!(item.number("speed"), Some(30.0));
        assert_eq!(item.shape, Shape::Point(project(4.85, 45.75)));
    }

    #[test]
    fn a_move_glides_from_the_old_position_to_the_new() {
        let mut item = Item::from_pb(&bus());
        let to = pb::Value {
            kind: Some(pb::value::Kind::Point(pb::Point {
                lon: 4.86,
                lat: 45.75,
            })),
        };
        item.moved_at = 9.0;
        item.set("position", &to, Some(10.0));
        let (a, b) = (project(4.85, 45.75), project(4.86, 45.75));
        let mid = item.position(10.5).unwrap();
        assert!((mid.0 - (a.0 + b.0) / 2.0).abs() < 1e-12, "{mid:?}");
        assert_eq!(item.position(11.5), Some(b));
        assert!(item.moving(10.5) && !item.moving(11.5));
    }
}
