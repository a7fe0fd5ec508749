//! Area models ([`twin_infer::areas`]) hosted by the runtime.
//!
//! The host listens on the bus for the readings its models select (the
//! `StateChanged` events of the twin, in the order it published them) and,
//! at each upkeep tick, hands them to the models with where each entity
//! lies, lets each model decide, and applies what it wrote through the
//! runtime like any other input: new entities, readings, relations. In
//! lockstep mode every event of a call is published before the call
//! returns, so a tick sees the same events in the same order on every run,
//! and replay reproduces the models' outputs.
//!
//! The models' states are saved to the store's metadata at each checkpoint
//! and restored at start.

use std::collections::HashMap;

use geo::Centroid;
use twin_core::state::{EntityRecord, KindState, Relation, ZoneShape};
use twin_core::store::Store;
use twin_core::{EntityId, EventBody, EventType, Kind, Measurand, SimTime, Value};
use twin_infer::areas::{Area, AreaOutputs, Place, Reading};
use twin_infer::models::Models;

use crate::bus::{Bus, Delivery, Filter, Subscription};
use crate::runtime::{Runtime, RuntimeError};

/// What a host knows of an entity a model or planner may follow.
pub(crate) struct Known {
    pub subtype: String,
    pub place: Option<Place>,
    pub zones: Vec<EntityId>,
    /// What it is attached to (a sensor's machine or parcel).
    pub attached: Option<EntityId>,
    /// Which pump waters it (a parcel).
    pub fed_by: Option<EntityId>,
    /// A parcel's area, m².
    pub area_m2: Option<f64>,
}

pub(crate) struct AreaHost {
    areas: Vec<(String, Box<dyn Area>)>,
    sub: Subscription,
    known: HashMap<EntityId, Known>,
    /// Events lost because the host fell behind the bus.
    missed: u64,
}

fn meta_key(key: &str) -> String {
    format!("area/{key}")
}

impl AreaHost {
    /// `None` when no area model is configured.
    pub fn new(models: &Models, bus: &Bus, store: Option<&Store>) -> Option<AreaHost> {
        let mut areas = models.areas();
        if areas.is_empty() {
            return None;
        }
        if let Some(store) = store {
            for (key, area) in &mut areas {
                restore(store, &meta_key(key), "area model", |b| {
                    area.restore(b).map_err(|e| e.to_string())
                });
            }
        }
        let every_kind = areas.iter().any(|(_, a)| a.selector().kinds.is_empty());
        let mut kinds: Vec<Kind> = areas
            .iter()
            .flat_map(|(_, a)| a.selector().kinds.clone())
            .collect();
        kinds.sort();
        kinds.dedup();
        let sub = bus.subscribe(Filter {
            kinds: if every_kind { Vec::new() } else { kinds },
            entities: Vec::new(),
            types: vec![EventType::StateChanged],
        });
        Some(AreaHost {
            areas,
            sub,
            known: HashMap::new(),
            missed: 0,
        })
    }

    /// Feeds the models what was published since the last step, lets them
    /// decide at `now`, and applies what they wrote.
    pub async fn step(&mut self, rt: &Runtime, now: SimTime) -> Result<(), RuntimeError> {
        // Only the readings some model may take are kept from the batches.
        let areas = &self.areas;
        let wanted = |kind: Kind, m: Measurand| {
            areas.iter().any(|(_, a)| {
                let s = a.selector();
                s.admits_measurand(m) && (s.kinds.is_empty() || s.kinds.contains(&kind))
            })
        };
        let mut events = Vec::new();
        while let Some(d) = self.sub.try_recv() {
            match d {
                Delivery::Events(batch) => {
                    events.extend(batch.iter().filter_map(|e| match &e.body {
                        EventBody::StateChanged { measurand, value }
                            if wanted(e.entity.kind(), *measurand) =>
                        {
                            Some((e.entity, e.time, *measurand, value.clone()))
                        }
                        _ => None,
                    }))
                }
                Delivery::Lagged { missed } => {
                    self.missed += missed;
                    tracing::warn!(
                        "area models fell behind the bus: {missed} events not seen ({} in all)",
                        self.missed
                    );
                }
                Delivery::Closed => break,
            }
        }
        for (entity, time, measurand, value) in &events {
            if !self.known.contains_key(entity) {
                let known = match rt.get(*entity).await? {
                    Some(r) => known(&r),
                    None => continue,
                };
                self.known.insert(*entity, known);
            }
            let known = &self.known[entity];
            for (_, area) in &mut self.areas {
                if area
                    .selector()
                    .admits(entity.kind(), &known.subtype, *measurand)
                {
                    area.observe(Reading {
                        entity: *entity,
                        subtype: &known.subtype,
                        place: known.place,
                        zones: &known.zones,
                        time: *time,
                        measurand: *measurand,
                        value,
                    });
                }
            }
        }
        for i in 0..self.areas.len() {
            let mut out = AreaOutputs::default();
            self.areas[i].1.step(now, &mut out);
            if !out.is_empty() {
                apply(rt, &self.areas[i].0, out, now).await?;
            }
        }
        Ok(())
    }

    /// Every model's state, under the store metadata key it is kept by.
    pub fn saved(&self) -> Vec<(String, Vec<u8>)> {
        self.areas
            .iter()
            .map(|(key, area)| (meta_key(key), area.save()))
            .collect()
    }
}

/// Applies a model's outputs; an input refused is logged with the model's
/// name and the rest goes on.
async fn apply(
    rt: &Runtime,
    key: &str,
    out: AreaOutputs,
    now: SimTime,
) -> Result<(), RuntimeError> {
    let report = |what: &str, errors: Vec<(usize, twin_core::state::InputError)>| {
        for (_, e) in errors {
            tracing::debug!("area model {key}: {what} refused: {e}");
        }
    };
    if !out.create.is_empty() {
        report("entity", rt.create(out.create, now).await?.errors);
    }
    if !out.readings.is_empty() {
        report("reading", rt.ingest(out.readings, false).await?.errors);
    }
    if !out.affects.is_empty() {
        report("relation", rt.relate(out.affects, now).await?.errors);
    }
    Ok(())
}

/// Restores a hosted model's or planner's state saved under `key`; one
/// that cannot be read or restored starts afresh, with a warning.
pub(crate) fn restore(
    store: &Store,
    key: &str,
    what: &str,
    restore: impl FnOnce(&[u8]) -> Result<(), String>,
) {
    match store.get_meta::<Vec<u8>>(key) {
        Ok(Some(bytes)) => {
            if let Err(e) = restore(&bytes) {
                tracing::warn!("{what} {key}: {e}; it starts afresh");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("{what} {key}: state not read: {e}"),
    }
}

/// Where an entity lies: a parcel's or zone's shape, or its position.
pub(crate) fn known(r: &EntityRecord) -> Known {
    let place = match &r.state {
        KindState::Parcel(p) => p.polygon.as_ref().and_then(|poly| {
            let c = poly.centroid()?;
            Some(Place {
                lon: c.x(),
                lat: c.y(),
                radius_m: (p.area_ha * 10_000.0 / std::f64::consts::PI).sqrt(),
            })
        }),
        KindState::Zone(z) => match &z.shape {
            Some(ZoneShape::Circle { centre, radius_m }) => Some(Place {
                lon: centre.x(),
                lat: centre.y(),
                radius_m: *radius_m,
            }),
            Some(ZoneShape::Polygon(poly)) => poly.centroid().map(|c| Place {
                lon: c.x(),
                lat: c.y(),
                radius_m: 0.0,
            }),
            None => None,
        },
        _ => None,
    };
    let place = place.or_else(|| match r.common.readings.get(Measurand::Position)?.value {
        Value::Point { lon, lat } => Some(Place {
            lon,
            lat,
            radius_m: 0.0,
        }),
        _ => None,
    });
    let zones = r
        .common
        .relations()
        .iter()
        .filter_map(|rel| match rel {
            Relation::LiesIn(z) => Some(*z),
            _ => None,
        })
        .collect();
    let attached = r.common.relations().iter().find_map(|rel| match rel {
        Relation::AttachedTo(t) => Some(*t),
        _ => None,
    });
    let fed_by = r.common.relations().iter().find_map(|rel| match rel {
        Relation::FedBy(t) => Some(*t),
        _ => None,
    });
    let area_m2 = match &r.state {
        KindState::Parcel(p) => Some(p.area_ha * 10_000.0),
        _ => None,
    };
    Known {
        subtype: r.common.subtype.name().to_string(),
        place,
        zones,
        attached,
        fed_by,
        area_m2,
    }
}
