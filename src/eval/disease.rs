//! Disease zones against the world's outbreaks, for `twin eval world`.
//!
//! Sampled every few simulated hours: each true outbreak (the parcels it
//! has reached) against the twin's active disease zones that affect any of
//! them.
//! - **IoU** of an outbreak at a sample: the parcels of the zones over it
//!   against its own parcels, intersection over union; an outbreak's IoU is
//!   the mean over its samples from its first detection on, and
//!   `disease_iou` the mean over the outbreaks detected.
//! - **Delay**: from the outbreak's onset on its first parcel to the first
//!   sample with a zone over it.
//! - **False zones**: zones that never affected a parcel of any outbreak
//!   while they were active.
//! - **Type**: at each sample where a zone is over an outbreak, whether it
//!   suspects the outbreak's disease.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Map, Value as Json, json};
use twin_core::state::EntityRecord;
use twin_core::{EntityId, Measurand, SimTime, Value};
use twin_scenarios::world::OutbreakTruth;

use super::round;

/// A disease zone as the twin holds it at a sample.
pub struct ZoneView {
    pub id: EntityId,
    pub parcels: BTreeSet<EntityId>,
    pub suspected: Option<String>,
}

impl ZoneView {
    /// The view of an active disease zone, `None` for any other record.
    pub fn of(r: &EntityRecord) -> Option<ZoneView> {
        if &*r.common.subtype.name() != "disease" {
            return None;
        }
        let active = r.common.readings.get(Measurand::Active)?.value == Value::Flag(true);
        if !active {
            return None;
        }
        let parcels = r.common.affects().collect();
        let suspected = match &r.common.readings.get(Measurand::Suspected)?.value {
            Value::Text(t) => Some(t.to_string()),
            _ => None,
        };
        Some(ZoneView {
            id: r.id(),
            parcels,
            suspected,
        })
    }
}

/// Mean severity over its parcels from which an outbreak counts as
/// significant: visible from orbit for more than a pass or two.
const SIGNIFICANT: f64 = 0.2;

#[derive(Default)]
struct Outbreak {
    onset: SimTime,
    /// Highest mean severity over its parcels seen.
    peak: f64,
    detected: Option<SimTime>,
    ious: Vec<f64>,
}

#[derive(Default)]
pub struct DiseaseTally {
    outbreaks: BTreeMap<u32, Outbreak>,
    /// Every disease zone seen active, and those seen over an outbreak.
    zones: HashSet<EntityId>,
    true_zones: HashSet<EntityId>,
    /// (right type, samples) over zone-outbreak matches.
    typed: (usize, usize),
}

impl DiseaseTally {
    pub fn sample(&mut self, now: SimTime, truth: &[OutbreakTruth], zones: &[ZoneView]) {
        for z in zones {
            self.zones.insert(z.id);
        }
        for o in truth {
            let entry = self.outbreaks.entry(o.id).or_insert_with(|| Outbreak {
                onset: o.onset,
                ..Default::default()
            });
            entry.peak = entry.peak.max(o.severity);
            let real: BTreeSet<EntityId> = o.parcels.iter().copied().collect();
            let over: Vec<&ZoneView> = zones
                .iter()
                .filter(|z| !z.parcels.is_disjoint(&real))
                .collect();
            if over.is_empty() {
                if entry.detected.is_some() {
                    entry.ious.push(0.0);
                }
                continue;
            }
            entry.detected.get_or_insert(now);
            let found: BTreeSet<EntityId> = over
                .iter()
                .flat_map(|z| z.parcels.iter().copied())
                .collect();
            let inter = found.intersection(&real).count() as f64;
            let union = found.union(&real).count() as f64;
            entry.ious.push(inter / union);
            for z in over {
                self.true_zones.insert(z.id);
                self.typed.1 += 1;
                if z.suspected.as_deref() == Some(o.disease) {
                    self.typed.0 += 1;
                }
            }
        }
    }

    pub fn scores(&self, days: f64, out: &mut Map<String, Json>) {
        let detected: Vec<&Outbreak> = self
            .outbreaks
            .values()
            .filter(|o| o.detected.is_some())
            .collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let ious: Vec<f64> = detected.iter().map(|o| mean(&o.ious)).collect();
        let mut delays: Vec<f64> = detected
            .iter()
            .filter_map(|o| Some((o.detected? - o.onset).as_secs_f64() / 86_400.0))
            .collect();
        delays.sort_by(f64::total_cmp);
        // Over significant outbreaks, an undetected one scoring 0.
        let significant: Vec<f64> = self
            .outbreaks
            .values()
            .filter(|o| o.peak >= SIGNIFICANT)
            .map(|o| {
                if o.detected.is_some() {
                    mean(&o.ious)
                } else {
                    0.0
                }
            })
            .collect();
        let false_zones = self.zones.difference(&self.true_zones).count();
        out.insert(
            "disease_outbreaks_significant".into(),
            json!(significant.len()),
        );
        out.insert(
            "disease_iou_significant".into(),
            if significant.is_empty() {
                Json::Null
            } else {
                json!(round(mean(&significant)))
            },
        );
        out.insert("disease_outbreaks".into(), json!(self.outbreaks.len()));
        out.insert("disease_outbreaks_detected".into(), json!(detected.len()));
        out.insert(
            "disease_iou".into(),
            if ious.is_empty() {
                Json::Null
            } else {
                json!(round(mean(&ious)))
            },
        );
        out.insert(
            "disease_detection_delay_days".into(),
            delays
                .get(delays.len() / 2)
                .map_or(Json::Null, |d| json!(round(*d))),
        );
        out.insert("disease_zones".into(), json!(self.zones.len()));
        out.insert("false_disease_zones".into(), json!(false_zones));
        out.insert(
            "false_disease_zones_per_90d".into(),
            json!(round(false_zones as f64 * 90.0 / days.max(1e-9))),
        );
        if self.typed.1 > 0 {
            out.insert(
                "disease_type_accuracy".into(),
                json!(round(self.typed.0 as f64 / self.typed.1 as f64)),
            );
        }
    }
}
