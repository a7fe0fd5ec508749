//! What every domain needs to populate the world: twin records, sensor
//! channels resolved against the scenario's models, local coordinates.

use std::collections::HashMap;

use bevy_ecs::prelude::*;
use twin_core::rng::{self, Light};
use twin_core::state::SensorState;
use twin_core::{
    EntityId, EntityRecord, Kind, KindState, Measurand, Observation, Relation, SimTime, Value,
};

use super::{Registry, Twin, lanes};
use crate::sensor::{Channel, Reading, SensorModel, SensorModels};
use crate::spec::{Scenario, ScenarioError, SensorMap};

/// The slot holding the true value of `m`, in a domain's table of
/// (measurand, slot) pairs.
pub fn slot(table: &[(Measurand, u8)], m: Measurand) -> Option<Reading> {
    table
        .iter()
        .find(|(x, _)| *x == m)
        .map(|(_, s)| Reading::Number(*s))
}

/// Flat local coordinates in metres around a centre, for geometry that is
/// small next to the Earth (a farm, a city, a site).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Local {
    pub lon0: f64,
    pub lat0: f64,
}

impl Local {
    const M_PER_DEG_LAT: f64 = 110_540.0;

    fn m_per_deg_lon(&self) -> f64 {
        111_320.0 * self.lat0.to_radians().cos()
    }
    /// Longitude and latitude of the point `x` metres east and `y` north.
    pub fn lonlat(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.lon0 + x / self.m_per_deg_lon(),
            self.lat0 + y / Self::M_PER_DEG_LAT,
        )
    }
    /// Metres east and north of the centre.
    pub fn xy(&self, lon: f64, lat: f64) -> (f64, f64) {
        (
            (lon - self.lon0) * self.m_per_deg_lon(),
            (lat - self.lat0) * Self::M_PER_DEG_LAT,
        )
    }
}

pub struct Builder<'a> {
    pub ecs: &'a mut World,
    pub scenario: &'a Scenario,
    pub local: Local,
    records: Vec<EntityRecord>,
    models: Vec<SensorModel>,
    index: HashMap<String, u16>,
    announced: Vec<Observation>,
    /// World entities spawned so far, for their lanes.
    spawned: usize,
}

impl<'a> Builder<'a> {
    pub fn new(ecs: &'a mut World, scenario: &'a Scenario) -> Builder<'a> {
        let (lon0, lat0) = scenario.spec.region.centre();
        Builder {
            ecs,
            scenario,
            local: Local { lon0, lat0 },
            records: Vec::new(),
            models: Vec::new(),
            index: HashMap::new(),
            announced: Vec::new(),
            spawned: 0,
        }
    }

    pub fn seed(&self) -> u64 {
        self.scenario.spec.seed
    }

    pub fn rng(&self, entity: Option<EntityId>, purpose: &str) -> Light {
        rng::light(self.seed(), entity, purpose)
    }

    pub fn scaled(&self, count: f64) -> usize {
        self.scenario.scaled(count)
    }

    pub fn error(&self, message: impl Into<String>) -> ScenarioError {
        ScenarioError::new(&self.scenario.file, message)
    }

    /// Adds a twin record and returns its id.
    pub fn record(&mut self, record: EntityRecord) -> EntityId {
        let id = record.id();
        self.records.push(record);
        id
    }

    /// Spawns a world entity in the next lane (see [`super::lanes`]).
    pub fn spawn(&mut self, bundle: impl Bundle) -> Entity {
        self.spawned += 1;
        lanes::spawn_in_lane(self.ecs, self.spawned - 1, bundle)
    }

    /// Spawns a world entity standing for twin entity `twin`.
    pub fn spawn_twin(&mut self, twin: EntityId, bundle: impl Bundle) -> Entity {
        let e = self.spawn((Twin(twin), bundle));
        self.ecs.resource_mut::<Registry>().0.insert(twin, e);
        e
    }

    fn model(&mut self, name: &str) -> Result<u16, ScenarioError> {
        if let Some(&i) = self.index.get(name) {
            return Ok(i);
        }
        let spec = self
            .scenario
            .spec
            .sensors
            .get(name)
            .ok_or_else(|| self.error(format!("no sensor model named `{name}`")))?;
        let model = SensorModel::from_spec(name, spec, self.scenario.spec.tick.0);
        Ok(self.register(name.to_string(), model))
    }

    fn register(&mut self, name: String, model: SensorModel) -> u16 {
        let i = self.models.len() as u16;
        self.models.push(model);
        self.index.insert(name, i);
        i
    }

    /// A channel through the model registered at `i`.
    fn channel_of(
        &mut self,
        i: u16,
        observed: EntityId,
        measurand: Measurand,
        reading: Reading,
    ) -> Channel {
        let rng = self.rng(Some(observed), measurand.name());
        Channel::new(
            observed,
            measurand,
            reading,
            i,
            &self.models[i as usize],
            rng,
        )
    }

    /// A channel reporting `measurand` of `observed` through model `model`.
    pub fn channel(
        &mut self,
        observed: EntityId,
        measurand: Measurand,
        reading: Reading,
        model: &str,
    ) -> Result<Channel, ScenarioError> {
        let i = self.model(model)?;
        Ok(self.channel_of(i, observed, measurand, reading))
    }

    /// A channel through model `model` but sampling every `period` (a
    /// satellite revisit, whatever the instrument's own rate).
    pub fn channel_every(
        &mut self,
        observed: EntityId,
        measurand: Measurand,
        reading: Reading,
        model: &str,
        period: SimTime,
    ) -> Result<Channel, ScenarioError> {
        let name = format!("{model}@{}", period.as_ms());
        let i = match self.index.get(&name) {
            Some(&i) => i,
            None => {
                let base = self.model(model)?;
                let mut m = self.models[base as usize].clone();
                m.period = period;
                self.register(name, m)
            }
        };
        Ok(self.channel_of(i, observed, measurand, reading))
    }

    /// A channel of a perfect sensor every `period` (controller reports such
    /// as throughput, which a machine counts exactly).
    pub fn ideal_channel(
        &mut self,
        observed: EntityId,
        measurand: Measurand,
        reading: Reading,
        period: SimTime,
    ) -> Channel {
        let name = format!("ideal-{}", period.as_ms());
        let i = match self.index.get(&name) {
            Some(&i) => i,
            None => self.register(name, SensorModel::ideal(period)),
        };
        self.channel_of(i, observed, measurand, reading)
    }

    /// For each (measurand → model) of `map`, a sensor entity named
    /// `{prefix}-{measurand}` related to its host by `relation`, and the
    /// channel that reads it from the slot `slot_of` gives. `where_` names the
    /// map in errors.
    pub fn sensors(
        &mut self,
        where_: &str,
        prefix: &str,
        map: &SensorMap,
        relation: Relation,
        slots: &[(Measurand, u8)],
    ) -> Result<Vec<Channel>, ScenarioError> {
        let mut channels = Vec::new();
        for (name, model) in map {
            let measurand: Measurand = name
                .parse()
                .map_err(|_| self.error(format!("{where_}: `{name}` is not a measurand")))?;
            let reading = slot(slots, measurand).ok_or_else(|| {
                self.error(format!(
                    "{where_}.{name}: nothing here has a true {name} to measure"
                ))
            })?;
            let i = self.model(model.get_ref())?;
            let period = self.models[i as usize].period;
            let record =
                EntityRecord::new(Kind::Sensor, &format!("{prefix}-{name}"), model.get_ref())
                    .with_state(KindState::Sensor(SensorState::measuring(
                        &[measurand],
                        period,
                    )))
                    .with_relation(relation);
            let id = self.record(record);
            channels.push(self.channel(id, measurand, reading, model.get_ref())?);
        }
        Ok(channels)
    }

    /// Announces where fixed asset `id` stands: one observation at time
    /// zero, from the asset register (it does not move, so nothing samples it).
    pub fn place(&mut self, id: EntityId, lon: f64, lat: f64) {
        self.announced.push(
            Observation::number(id, SimTime::ZERO, Measurand::Position, 0.0)
                .with_value(Value::Point { lon, lat }),
        );
    }

    /// The records, the sensor models and the observations announced at time zero.
    pub fn finish(self) -> (Vec<EntityRecord>, SensorModels, Vec<Observation>) {
        (self.records, SensorModels(self.models), self.announced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_coordinates_round_trip() {
        let l = Local {
            lon0: -6.6,
            lat0: 5.8,
        };
        let (lon, lat) = l.lonlat(1000.0, -500.0);
        let (x, y) = l.xy(lon, lat);
        assert!((x - 1000.0).abs() < 1e-6 && (y + 500.0).abs() < 1e-6);
        let d = twin_core::geometry::distance_m(
            geo::Point::new(l.lon0, l.lat0),
            geo::Point::new(lon, lat),
        );
        assert!((d - 1118.0).abs() < 10.0, "{d}");
    }
}
