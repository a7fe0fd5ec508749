//! Which entities an `EntityFilter` selects, checked once per request.

use std::collections::HashSet;

use geo::{Coord, LineString, Point, Polygon, Rect};
use twin_core::geometry::Region;
use twin_core::state::{KindState, ZoneShape};
use twin_core::{EntityId, EntityRecord, Kind, Measurand, Relation, Value};
use twin_proto::convert::{FieldError, entity_id, kind_from_pb};
use twin_proto::v1 as pb;

/// A checked filter.
#[derive(Clone, Debug, Default)]
pub struct EntityFilter {
    pub kinds: Vec<Kind>,
    pub subtypes: Vec<String>,
    pub tags: Vec<String>,
    pub ids: HashSet<EntityId>,
    pub regions: Vec<Region>,
    /// The zone's own id: entities lying in it, or inside its shape.
    pub zone: Option<(EntityId, Option<Region>)>,
}

fn point(p: &pb::Point, field: &str) -> Result<Coord<f64>, FieldError> {
    if !(-180.0..=180.0).contains(&p.lon) || !(-90.0..=90.0).contains(&p.lat) {
        return Err(FieldError::new(
            field,
            "invalid_argument",
            format!(
                "[{}, {}] is not longitude, latitude in degrees",
                p.lon, p.lat
            ),
        ));
    }
    Ok(Coord { x: p.lon, y: p.lat })
}

impl EntityFilter {
    /// Checks a wire filter; `zone_region` looks up a zone's shape.
    pub fn from_pb(
        f: Option<&pb::EntityFilter>,
        zone_region: impl Fn(EntityId) -> Option<Region>,
    ) -> Result<EntityFilter, FieldError> {
        let Some(f) = f else {
            return Ok(EntityFilter::default());
        };
        let mut out = EntityFilter {
            subtypes: f.subtypes.clone(),
            tags: f.tags.clone(),
            ..Default::default()
        };
        for (i, k) in f.kinds.iter().enumerate() {
            let kind = pb::Kind::try_from(*k)
                .ok()
                .and_then(kind_from_pb)
                .ok_or_else(|| {
                    FieldError::new(
                        format!("filter.kinds[{i}]"),
                        "invalid_argument",
                        format!("{k} is not a kind"),
                    )
                })?;
            out.kinds.push(kind);
        }
        for (i, id) in f.ids.iter().enumerate() {
            out.ids.insert(entity_id(id, &format!("filter.ids[{i}]"))?);
        }
        match f.bbox.as_slice() {
            [] => {}
            [w, s, e, n] if w < e && s < n => {
                let lo = point(&pb::Point { lon: *w, lat: *s }, "filter.bbox")?;
                let hi = point(&pb::Point { lon: *e, lat: *n }, "filter.bbox")?;
                out.regions.push(Region::BBox(Rect::new(lo, hi)));
            }
            other => {
                return Err(FieldError::new(
                    "filter.bbox",
                    "invalid_argument",
                    format!(
                        "{other:?} is not [west, south, east, north] with west < east and south < north"
                    ),
                ));
            }
        }
        if let Some(p) = &f.polygon {
            if p.ring.len() < 3 {
                return Err(FieldError::new(
                    "filter.polygon",
                    "invalid_argument",
                    "a polygon needs at least 3 points",
                ));
            }
            let ring: Result<Vec<Coord<f64>>, FieldError> = p
                .ring
                .iter()
                .enumerate()
                .map(|(i, q)| point(q, &format!("filter.polygon.ring[{i}]")))
                .collect();
            out.regions.push(Region::Polygon(Polygon::new(
                LineString::from(ring?),
                vec![],
            )));
        }
        if let Some(c) = &f.near {
            let centre = c.centre.as_ref().ok_or_else(|| {
                FieldError::new("filter.near.centre", "invalid_argument", "no centre given")
            })?;
            if !(c.radius_m > 0.0 && c.radius_m.is_finite()) {
                return Err(FieldError::new(
                    "filter.near.radius_m",
                    "invalid_argument",
                    "the radius must be a positive number of metres",
                ));
            }
            out.regions.push(Region::Circle {
                centre: Point::from(point(centre, "filter.near.centre")?),
                radius_m: c.radius_m,
            });
        }
        if !f.zone.is_empty() {
            let zone = entity_id(&f.zone, "filter.zone")?;
            if zone.kind() != Kind::Zone {
                return Err(FieldError::new(
                    "filter.zone",
                    "invalid_argument",
                    format!("{} is not a zone", f.zone),
                ));
            }
            out.zone = Some((zone, zone_region(zone)));
        }
        Ok(out)
    }

    pub fn matches(&self, r: &EntityRecord) -> bool {
        let id = r.id();
        (self.kinds.is_empty() || self.kinds.contains(&id.kind()))
            && (self.ids.is_empty() || self.ids.contains(&id))
            && (self.subtypes.is_empty()
                || self
                    .subtypes
                    .iter()
                    .any(|s| *s == r.common.subtype.to_string()))
            && self
                .tags
                .iter()
                .all(|t| r.common.tags().iter().any(|x| x.as_str() == t))
            && (self.regions.is_empty() || {
                let at = anchor(r);
                at.is_some_and(|p| self.regions.iter().all(|g| g.contains(p)))
            })
            && self.zone.as_ref().is_none_or(|(zone, region)| {
                r.common.relations().contains(&Relation::LiesIn(*zone))
                    || region
                        .as_ref()
                        .zip(anchor(r))
                        .is_some_and(|(g, p)| g.contains(p))
            })
    }
}

/// The point that stands for an entity in spatial filters: its position
/// reading, else the centre of its shape.
pub fn anchor(r: &EntityRecord) -> Option<Point<f64>> {
    if let Some(Value::Point { lon, lat }) = r
        .common
        .readings
        .iter()
        .find(|x| x.measurand == Measurand::Position)
        .map(|x| &x.value)
    {
        return Some(Point::new(*lon, *lat));
    }
    match &r.state {
        KindState::Parcel(p) => p.polygon.as_ref().and_then(geo::Centroid::centroid),
        KindState::Zone(z) => match z.shape.as_ref()? {
            ZoneShape::Polygon(p) => geo::Centroid::centroid(p),
            ZoneShape::Circle { centre, .. } => Some(*centre),
        },
        _ => None,
    }
}

/// The region of a zone record.
pub fn zone_region(r: &EntityRecord) -> Option<Region> {
    match &r.state {
        KindState::Zone(z) => z.shape.as_ref().map(|s| match s {
            ZoneShape::Polygon(p) => Region::Polygon(p.clone()),
            ZoneShape::Circle { centre, radius_m } => Region::Circle {
                centre: *centre,
                radius_m: *radius_m,
            },
        }),
        _ => None,
    }
}
