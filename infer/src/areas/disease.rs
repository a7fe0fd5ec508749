//! `model = "disease_zones"`: finds where a crop disease is spreading from
//! the parcels' NDVI and keeps each outbreak as a zone entity of subtype
//! `disease`.
//!
//! **Parcels.** A satellite pass images every parcel at one time. The
//! season, the weather and the sensor's calibration move every parcel of a
//! pass alike, so a parcel is judged against the pass's median NDVI: its
//! residual `r = ndvi − median`. Each parcel learns its usual residual (its
//! offset: soil, density, age of the trees) over its healthy passes, and
//! the noise of residuals is learnt over all parcels (a median absolute
//! deviation, smoothed over passes). A parcel whose NDVI falls below its
//! usual by `z_strong` noise deviations, or by `z_suspect` on two clear
//! passes in a row, is sick; it recovers when it comes back within
//! `z_recover`. A cloudy parcel gives nothing and keeps its verdict. The
//! severity is the relative NDVI loss over the loss of a fully diseased
//! canopy (`full_loss`).
//!
//! **Zones.** Sick parcels within `link_m` of each other form one cluster.
//! A cluster sharing parcels with an open zone continues it (the oldest,
//! when it joins several: they merge and the others close); a cluster
//! sharing none opens a zone; a zone left without sick parcels closes. A
//! zone reports `position` (its centre), `radius` (the disc over its
//! parcels), `severity` (their mean), `trend` (severity per day),
//! `suspected` and `active`, and `affects` its parcels.
//!
//! **Suspected type.** Black pod is a fungus: it grows in wet weather and
//! recedes in dry spells; swollen shoot is a virus that grows whatever the
//! weather. Humidity and rain readings say which hours were wet; a zone
//! whose severity grew through a dry spell points at swollen shoot, one
//! that grew through a wet spell or receded through a dry one at black pod.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use twin_core::state::{EntityRecord, KindState, ZoneShape, ZoneState, ZoneType};
use twin_core::{EntityId, Kind, Measurand, Observation, SimTime, Source, Value};

use super::{Area, AreaOutputs, Reading};
use crate::models::{Error, Selector, Spec};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Params {
    /// Deficit, in noise deviations, that makes a parcel suspect.
    z_suspect: f64,
    /// Deficit that makes a parcel sick at once.
    z_strong: f64,
    /// Deficit under which a sick parcel has recovered.
    z_recover: f64,
    /// Deficit at which a parcel next to a sick one counts as reached: an
    /// outbreak spreads to neighbours, so a small drop beside a zone is
    /// more likely the disease than noise.
    z_near: f64,
    /// Smallest NDVI deficit that counts, whatever the noise.
    min_deficit: f64,
    /// Relative NDVI loss of a fully diseased canopy.
    full_loss: f64,
    /// Sick parcels within this distance, metres, belong to one zone.
    link_m: f64,
    /// How long after a pass its last late readings are waited for.
    #[serde(with = "super::duration")]
    settle: SimTime,
    /// Relative humidity at or above which an hour is wet, %.
    wet_humidity: f64,
    /// Fewest parcels in a pass for its median to be trusted.
    min_parcels: usize,
    /// Whether a zone takes in every parcel whose centre lies between the
    /// centres of its sick parcels.
    fill: bool,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            z_suspect: 2.5,
            z_strong: 4.0,
            z_recover: 1.5,
            z_near: 1.0,
            min_deficit: 0.02,
            full_loss: 0.6,
            link_m: 300.0,
            settle: SimTime::days(1),
            wet_humidity: 80.0,
            min_parcels: 5,
            fill: true,
        }
    }
}

/// Passes waiting to settle, at most: a feed that sends NDVI at ever new
/// times cannot grow the state without bound.
const MAX_PENDING: usize = 64;
/// Hours of weather kept: the longest spell a zone's evidence looks at.
const WET_HOURS: usize = 60 * 24;
/// Noise deviation of residuals before any pass has been seen, and its
/// floor.
const SIGMA_START: f64 = 0.02;
const SIGMA_FLOOR: f64 = 0.005;
/// Weight of a new healthy pass in a parcel's offset and of a pass's
/// spread in the noise.
const LEARN: f64 = 0.2;
/// A severity change that counts as growth or recession, per update.
const CHANGE: f64 = 0.03;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Parcel {
    place: Option<(f64, f64, f64)>,
    /// Usual residual against the pass median.
    offset: f64,
    passes: u32,
    /// Suspect passes in a row.
    run: u32,
    sick: bool,
    severity: f64,
    /// Deficit at the last clear pass, in noise deviations.
    z: f64,
}

/// Sick parcels of one neighbourhood, with their (lon, lat, radius).
type Cluster = Vec<(EntityId, (f64, f64, f64))>;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Zone {
    id: EntityId,
    members: Vec<EntityId>,
    first_seen: SimTime,
    updated: SimTime,
    severity: f64,
    /// Evidence for black pod and for swollen shoot.
    pod: f64,
    shoot: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    parcels: BTreeMap<EntityId, Parcel>,
    /// NDVI readings by pass (the hour of the acquisition).
    pending: BTreeMap<i64, BTreeMap<EntityId, f64>>,
    /// Passes already judged up to this hour: later readings of them are
    /// too late.
    judged_to: Option<i64>,
    sigma: Option<f64>,
    /// (hour, wet) of the last [`WET_HOURS`] hours with weather.
    wet: VecDeque<(i64, bool)>,
    zones: Vec<Zone>,
    next_zone: u32,
}

pub struct DiseaseZones {
    provenance: String,
    select: Selector,
    p: Params,
    s: State,
}

pub fn build(spec: &Spec) -> Result<Box<dyn Area>, Error> {
    let p: Params = spec.params()?;
    let bad = |what: String| Error::Params {
        model: spec.model.clone(),
        what,
    };
    let positive = [p.z_suspect, p.z_strong, p.z_recover, p.full_loss, p.link_m];
    if !positive.iter().all(|x| x.is_finite() && *x > 0.0) {
        return Err(bad(format!(
            "z_suspect {}, z_strong {}, z_recover {}, full_loss {} and link_m {} must be positive",
            p.z_suspect, p.z_strong, p.z_recover, p.full_loss, p.link_m
        )));
    }
    if !(p.z_recover < p.z_suspect && p.z_suspect <= p.z_strong) {
        return Err(bad(
            "thresholds must order as z_recover < z_suspect <= z_strong".into(),
        ));
    }
    if !(p.min_deficit.is_finite() && p.min_deficit >= 0.0) || p.settle < SimTime::ZERO {
        return Err(bad("min_deficit and settle must not be negative".into()));
    }
    if p.min_parcels < 3 {
        return Err(bad("min_parcels must be at least 3".into()));
    }
    let select = if spec.select == Selector::default() {
        Selector {
            kinds: vec![Kind::Parcel, Kind::Sensor],
            subtypes: vec![],
            measurands: vec![Measurand::Ndvi, Measurand::Humidity, Measurand::Rainfall],
        }
    } else {
        spec.select.clone()
    };
    Ok(Box::new(DiseaseZones {
        provenance: concat!("disease_zones/", env!("CARGO_PKG_VERSION")).into(),
        select,
        p,
        s: State::default(),
    }))
}

fn hour(t: SimTime) -> i64 {
    t.as_ms().div_euclid(3_600_000)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Metres east and north of `o`, near it.
fn local((lon, lat): (f64, f64), o: (f64, f64)) -> (f64, f64) {
    (
        (lon - o.0) * 111_320.0 * o.1.to_radians().cos(),
        (lat - o.1) * 110_540.0,
    )
}

impl State {
    fn wet_fraction(&self, from: SimTime, to: SimTime) -> Option<f64> {
        let (a, b) = (hour(from), hour(to));
        let (n, w) = self
            .wet
            .iter()
            .filter(|(h, _)| (a..=b).contains(h))
            .fold((0, 0), |(n, w), (_, wet)| (n + 1, w + usize::from(*wet)));
        (n > 0).then(|| w as f64 / n as f64)
    }

    fn note_weather(&mut self, t: SimTime, wet: bool) {
        let h = hour(t);
        match self.wet.back_mut() {
            Some((last, w)) if *last == h => *w |= wet,
            Some((last, _)) if *last > h => {}
            _ => {
                self.wet.push_back((h, wet));
                if self.wet.len() > WET_HOURS {
                    self.wet.pop_front();
                }
            }
        }
    }
}

impl DiseaseZones {
    /// Judges one pass: each parcel's deficit against the pass median.
    fn judge(&mut self, values: &[(EntityId, f64)]) {
        let p = &self.p;
        let s = &mut self.s;
        if values.len() < p.min_parcels {
            return;
        }
        let mut all: Vec<f64> = values.iter().map(|(_, v)| *v).collect();
        let m = median(&mut all);
        let mut spread: Vec<f64> = values
            .iter()
            .filter_map(|(id, v)| {
                let parcel = s.parcels.get(id)?;
                (parcel.passes > 0 && !parcel.sick).then(|| (v - m - parcel.offset).abs())
            })
            .collect();
        if spread.len() >= p.min_parcels {
            let mad = (median(&mut spread) * 1.4826).max(SIGMA_FLOOR);
            s.sigma = Some(match s.sigma {
                Some(old) => old + LEARN * (mad - old),
                None => mad,
            });
        }
        let sigma = s.sigma.unwrap_or(SIGMA_START);
        for (id, v) in values {
            let parcel = s.parcels.entry(*id).or_default();
            let r = v - m;
            if parcel.passes == 0 {
                parcel.offset = r;
                parcel.passes = 1;
                continue;
            }
            parcel.passes += 1;
            let deficit = parcel.offset - r;
            let z = deficit / sigma;
            parcel.z = z;
            let expected = (m + parcel.offset).max(0.1);
            parcel.severity = (deficit / (p.full_loss * expected)).clamp(0.0, 1.0);
            if z >= p.z_suspect && deficit >= p.min_deficit {
                parcel.run += 1;
                if z >= p.z_strong || parcel.run >= 2 {
                    parcel.sick = true;
                }
            } else {
                parcel.run = 0;
                if z < p.z_recover {
                    parcel.sick = false;
                }
            }
            // A healthy parcel's offset follows its residuals, each step
            // clipped alike on both sides so that no tail biases it.
            if !parcel.sick && parcel.run == 0 {
                let reach = p.z_suspect * sigma;
                parcel.offset += LEARN * (r - parcel.offset).clamp(-reach, reach);
            }
        }
    }

    /// Sick parcels with a place, with the parcels next to them that
    /// dropped by `z_near`, in clusters of neighbours.
    fn clusters(&self) -> Vec<Cluster> {
        let placed = || {
            self.s
                .parcels
                .iter()
                .filter_map(|(id, p)| Some((*id, p, p.place?)))
        };
        let mut sick: Vec<(EntityId, (f64, f64, f64))> = placed()
            .filter(|(_, p, _)| p.sick)
            .map(|(id, _, at)| (id, at))
            .collect();
        let near = |at: (f64, f64, f64), other: (f64, f64, f64)| {
            let (dx, dy) = local((other.0, other.1), (at.0, at.1));
            dx.hypot(dy) <= self.p.link_m
        };
        let reached: Vec<(EntityId, (f64, f64, f64))> = placed()
            .filter(|(_, p, at)| {
                !p.sick
                    && p.passes > 1
                    && p.z >= self.p.z_near
                    && sick.iter().any(|(_, s)| near(*s, *at))
            })
            .map(|(id, _, at)| (id, at))
            .collect();
        sick.extend(reached);
        // Union-find over pairs within reach; few parcels are sick at once.
        let mut root: Vec<usize> = (0..sick.len()).collect();
        fn find(root: &mut [usize], mut i: usize) -> usize {
            while root[i] != i {
                root[i] = root[root[i]];
                i = root[i];
            }
            i
        }
        for i in 0..sick.len() {
            for j in i + 1..sick.len() {
                if near(sick[i].1, sick[j].1) {
                    let (ri, rj) = (find(&mut root, i), find(&mut root, j));
                    root[ri.max(rj)] = ri.min(rj);
                }
            }
        }
        let mut groups: BTreeMap<usize, Cluster> = BTreeMap::new();
        for (i, member) in sick.iter().enumerate() {
            let r = find(&mut root, i);
            groups.entry(r).or_default().push(*member);
        }
        groups.into_values().collect()
    }

    /// Matches clusters to zones: grows, opens, merges and closes them.
    fn keep_zones(&mut self, now: SimTime, out: &mut AreaOutputs) {
        let mut zones = std::mem::take(&mut self.s.zones);
        let clusters = join_by_zone(self.clusters(), &zones);
        let mut kept: Vec<Zone> = Vec::new();
        for cluster in clusters {
            let members: Vec<EntityId> = cluster.iter().map(|(id, _)| *id).collect();
            // Open zones sharing parcels with the cluster, oldest first.
            let (mut joined, rest): (Vec<Zone>, Vec<Zone>) = zones
                .into_iter()
                .partition(|z| z.members.iter().any(|m| members.contains(m)));
            zones = rest;
            joined.sort_by_key(|z| (z.first_seen, z.id));
            let mut zone = if joined.is_empty() {
                self.open(now, &cluster, out)
            } else {
                let mut oldest = joined.remove(0);
                for merged in joined {
                    oldest.pod += merged.pod;
                    oldest.shoot += merged.shoot;
                    close(&merged, now, out);
                }
                oldest
            };
            zone.members = members;
            if self.p.fill {
                self.fill(&mut zone, &cluster);
            }
            self.report(&mut zone, &cluster, now, out);
            kept.push(zone);
        }
        for z in &zones {
            close(z, now, out);
        }
        kept.sort_by_key(|z| (z.first_seen, z.id));
        self.s.zones = kept;
    }

    fn open(
        &mut self,
        now: SimTime,
        cluster: &[(EntityId, (f64, f64, f64))],
        out: &mut AreaOutputs,
    ) -> Zone {
        self.s.next_zone += 1;
        let name = format!("disease-{:04}", self.s.next_zone);
        let (lon, lat, radius_m) = extent(cluster);
        let record = EntityRecord::new(Kind::Zone, &name, "disease").with_state(KindState::Zone(
            ZoneState::new(
                ZoneType::Disease,
                ZoneShape::Circle {
                    centre: geo::Point::new(lon, lat),
                    radius_m,
                },
            ),
        ));
        let id = record.id();
        out.create.push(record);
        // Weather before the first sighting: a wet spell points at black pod.
        let wet = self.s.wet_fraction(now - SimTime::days(10), now);
        let (pod, shoot) = match wet {
            Some(w) if w >= 0.6 => (0.5, 0.0),
            Some(w) if w < 0.35 => (0.0, 0.5),
            _ => (0.0, 0.0),
        };
        Zone {
            id,
            members: Vec::new(),
            first_seen: now,
            updated: now,
            severity: 0.0,
            pod,
            shoot,
        }
    }

    /// Adds the parcels whose centres lie in the zone's disc: an outbreak
    /// fills the ground between the parcels seen sick.
    fn fill(&self, zone: &mut Zone, cluster: &[(EntityId, (f64, f64, f64))]) {
        let (lon, lat, _) = extent(cluster);
        let core = cluster
            .iter()
            .map(|(_, p)| {
                let (dx, dy) = local((p.0, p.1), (lon, lat));
                dx.hypot(dy)
            })
            .fold(0.0, f64::max);
        for (id, p) in &self.s.parcels {
            let Some(at) = p.place else { continue };
            let (dx, dy) = local((at.0, at.1), (lon, lat));
            if dx.hypot(dy) <= core && !zone.members.contains(id) {
                zone.members.push(*id);
            }
        }
    }

    /// The zone's readings and relations after an update.
    fn report(
        &self,
        z: &mut Zone,
        cluster: &[(EntityId, (f64, f64, f64))],
        now: SimTime,
        out: &mut AreaOutputs,
    ) {
        let severity = z
            .members
            .iter()
            .filter_map(|m| self.s.parcels.get(m))
            .map(|p| p.severity)
            .sum::<f64>()
            / z.members.len().max(1) as f64;
        let days = (now - z.updated).as_secs_f64() / 86_400.0;
        let trend = if days > 0.0 && z.severity > 0.0 {
            (severity - z.severity) / days
        } else {
            0.0
        };
        if days > 0.0 && z.severity > 0.0 {
            let change = severity - z.severity;
            match self.s.wet_fraction(z.updated, now) {
                Some(w) if w < 0.35 && change > CHANGE => z.shoot += 1.0,
                Some(w) if w < 0.35 && change < -CHANGE => z.pod += 1.0,
                Some(w) if w >= 0.6 && change > CHANGE => z.pod += 0.5,
                _ => {}
            }
        }
        z.severity = severity;
        z.updated = now;
        let (lon, lat, radius) = extent(cluster);
        let suspected = if z.shoot > z.pod {
            "swollen-shoot"
        } else {
            "black-pod"
        };
        let o = |m, v| reading(z.id, now, m, v);
        out.readings.extend([
            o(Measurand::Position, Value::Point { lon, lat }),
            o(Measurand::Radius, Value::Number(radius)),
            o(Measurand::Severity, Value::Number(severity)),
            o(Measurand::Trend, Value::Number(trend)),
            o(Measurand::Suspected, Value::Text(suspected.into())),
            o(Measurand::Active, Value::Flag(true)),
        ]);
        out.affects.push((z.id, z.members.clone()));
    }
}

fn reading(id: EntityId, t: SimTime, m: Measurand, v: Value) -> Observation {
    Observation {
        source: Source::Inference,
        ..Observation::number(id, t, m, 0.0).with_value(v)
    }
}

/// Clusters that share parcels with the same open zone, as one: a zone
/// whose parcels recover unevenly stays one zone rather than splitting.
fn join_by_zone(clusters: Vec<Cluster>, zones: &[Zone]) -> Vec<Cluster> {
    let mut out: Vec<Cluster> = Vec::with_capacity(clusters.len());
    let mut owner: Vec<Option<usize>> = Vec::new();
    for cluster in clusters {
        let touches = |z: &Zone| cluster.iter().any(|(id, _)| z.members.contains(id));
        let zone = zones.iter().position(touches);
        match zone.and_then(|z| owner.iter().position(|o| *o == Some(z))) {
            Some(i) => out[i].extend(cluster),
            None => {
                out.push(cluster);
                owner.push(zone);
            }
        }
    }
    out
}

/// A zone left without sick parcels (or merged into an older one).
fn close(z: &Zone, now: SimTime, out: &mut AreaOutputs) {
    out.readings.extend([
        reading(z.id, now, Measurand::Severity, Value::Number(0.0)),
        reading(z.id, now, Measurand::Trend, Value::Number(0.0)),
        reading(z.id, now, Measurand::Active, Value::Flag(false)),
    ]);
    out.affects.push((z.id, Vec::new()));
}

/// The centre of a cluster's parcels and the radius of the disc over them.
fn extent(cluster: &[(EntityId, (f64, f64, f64))]) -> (f64, f64, f64) {
    let o = (cluster[0].1.0, cluster[0].1.1);
    let n = cluster.len() as f64;
    let (cx, cy) = cluster.iter().fold((0.0, 0.0), |(x, y), (_, p)| {
        let (dx, dy) = local((p.0, p.1), o);
        (x + dx / n, y + dy / n)
    });
    let radius = cluster
        .iter()
        .map(|(_, p)| {
            let (dx, dy) = local((p.0, p.1), o);
            (dx - cx).hypot(dy - cy) + p.2
        })
        .fold(0.0, f64::max);
    let lat = o.1 + cy / 110_540.0;
    let lon = o.0 + cx / (111_320.0 * o.1.to_radians().cos());
    (lon, lat, radius)
}

impl Area for DiseaseZones {
    fn provenance(&self) -> &str {
        &self.provenance
    }

    fn selector(&self) -> &Selector {
        &self.select
    }

    fn observe(&mut self, r: Reading) {
        let Some(x) = r.value.as_f64() else { return };
        match r.measurand {
            Measurand::Ndvi if r.entity.kind() == Kind::Parcel => {
                let h = hour(r.time);
                if self.s.judged_to.is_some_and(|j| h <= j) {
                    return;
                }
                let parcel = self.s.parcels.entry(r.entity).or_default();
                if let Some(place) = r.place {
                    parcel.place = Some((place.lon, place.lat, place.radius_m));
                }
                if !self.s.pending.contains_key(&h) && self.s.pending.len() >= MAX_PENDING {
                    return;
                }
                self.s.pending.entry(h).or_default().insert(r.entity, x);
            }
            Measurand::Humidity => self.s.note_weather(r.time, x >= self.p.wet_humidity),
            Measurand::Rainfall => self.s.note_weather(r.time, x > 0.0),
            _ => {}
        }
    }

    fn step(&mut self, now: SimTime, out: &mut AreaOutputs) {
        let due = hour(now - self.p.settle);
        let ready: Vec<i64> = self.s.pending.range(..=due).map(|(h, _)| *h).collect();
        if ready.is_empty() {
            return;
        }
        for h in ready {
            let values: Vec<(EntityId, f64)> = self
                .s
                .pending
                .remove(&h)
                .unwrap_or_default()
                .into_iter()
                .collect();
            self.judge(&values);
            self.s.judged_to = Some(h);
        }
        self.keep_zones(now, out);
    }

    fn save(&self) -> Vec<u8> {
        postcard::to_allocvec(&self.s).expect("a disease keeper serialises")
    }

    fn restore(&mut self, saved: &[u8]) -> Result<(), Error> {
        self.s = crate::models::saved("disease_zones", saved)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
