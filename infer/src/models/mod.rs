//! The contract between a model and the runtime that hosts it.
//!
//! A [`Model`] is built once from its `[[inference]]` entry ([`Spec`]): it
//! says which readings it follows ([`Selector`]) and starts a [`Follower`]
//! per entity, which lives next to the entity (same shard), takes the
//! entity's observations one at a time and writes [`Outputs`]: derived
//! readings of the same entity (source `Inference`) and findings the runtime
//! turns into events. A follower has no clock, thread or I/O; its state
//! saves to bytes with the entity and restores from them, so passivation,
//! restart and replay continue where it stopped.
//!
//! Adding a model is one file in this folder plus one line in [`REGISTRY`].

pub mod anomaly;

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use twin_core::{Kind, Measurand, Observation};

/// Errors building a model or restoring its state.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown model {0:?} (known: {known})", known = known())]
    Unknown(String),
    #[error("model {model}: {what}")]
    Params { model: String, what: String },
    #[error("model {model}: saved state: {what}")]
    State { model: String, what: String },
}

fn known() -> String {
    REGISTRY
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which readings of which entities a model follows; an empty list admits
/// everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    #[serde(default)]
    pub kinds: Vec<Kind>,
    #[serde(default)]
    pub subtypes: Vec<String>,
    #[serde(default)]
    pub measurands: Vec<Measurand>,
}

impl Selector {
    pub fn admits(&self, kind: Kind, subtype: &str, measurand: Measurand) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&kind))
            && (self.subtypes.is_empty() || self.subtypes.iter().any(|s| s == subtype))
            && (self.measurands.is_empty() || self.measurands.contains(&measurand))
    }
}

/// One `[[inference]]` entry of a scenario or a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A name from [`REGISTRY`].
    pub model: String,
    #[serde(default)]
    pub select: Selector,
    /// The model's own settings; each model refuses keys it does not know.
    #[serde(default)]
    pub params: toml::Table,
    /// A trained model file, relative to the scenario's folder.
    pub file: Option<String>,
}

impl Spec {
    /// The model's parameters as its own settings type, unknown keys refused.
    pub fn params<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        toml::Value::Table(self.params.clone())
            .try_into()
            .map_err(|e: toml::de::Error| Error::Params {
                model: self.model.clone(),
                what: e.message().to_string(),
            })
    }
}

/// What a follower found that the runtime turns into events.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// A reading's anomaly score passed the model's threshold.
    Anomaly { measurand: Measurand, score: f64 },
    /// The estimated remaining life fell below the model's threshold.
    RulBelow { rul: f64, threshold: f64 },
}

/// A follower's outputs for one observation.
#[derive(Debug, Default)]
pub struct Outputs {
    pub readings: Vec<Observation>,
    pub findings: Vec<Finding>,
}

impl Outputs {
    pub fn clear(&mut self) {
        self.readings.clear();
        self.findings.clear();
    }
}

/// A model built from its spec, shared by every entity it follows.
pub trait Model: Send + Sync {
    /// Name and version, the provenance of every output.
    fn provenance(&self) -> &str;
    fn selector(&self) -> &Selector;
    /// A follower for one entity that has seen nothing yet.
    fn follow(&self) -> Box<dyn Follower>;
    /// A follower from the bytes [`Follower::save`] wrote.
    fn restore(&self, saved: &[u8]) -> Result<Box<dyn Follower>, Error>;
}

/// One entity's state of one model.
pub trait Follower: Send {
    /// Takes one observation the model's selector admitted.
    fn step(&mut self, obs: &Observation, out: &mut Outputs);
    fn save(&self) -> Vec<u8>;
}

type Build = fn(&Spec, &Path) -> Result<Arc<dyn Model>, Error>;

/// Every model the twin knows, by the name `[[inference]]` gives.
pub const REGISTRY: &[(&str, Build)] = &[("anomaly", anomaly::build)];

/// Builds the model a spec names; `base` is the folder its file is in.
pub fn build(spec: &Spec, base: &Path) -> Result<Arc<dyn Model>, Error> {
    let (_, build) = REGISTRY
        .iter()
        .find(|(n, _)| *n == spec.model)
        .ok_or_else(|| Error::Unknown(spec.model.clone()))?;
    build(spec, base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_reads_from_toml_and_refuses_what_it_does_not_know() {
        let spec: Spec = toml::from_str(
            r#"model = "anomaly"
               select = { kinds = ["machine"], measurands = ["vibration_rms"] }
               params = { probation = 300 }"#,
        )
        .unwrap();
        assert!(
            spec.select
                .admits(Kind::Machine, "pump", Measurand::VibrationRms)
        );
        assert!(
            !spec
                .select
                .admits(Kind::Sensor, "pump", Measurand::VibrationRms)
        );
        assert!(
            !spec
                .select
                .admits(Kind::Machine, "pump", Measurand::Current)
        );
        assert!(build(&spec, Path::new(".")).is_ok());

        let e = toml::from_str::<Spec>("model = \"anomaly\"\nselector = {}").unwrap_err();
        assert!(e.to_string().contains("unknown field `selector`"), "{e}");
        let mut bad = spec.clone();
        bad.params
            .insert("probaton".into(), toml::Value::Integer(3));
        let e = build(&bad, Path::new(".")).err().unwrap().to_string();
        assert!(e.contains("model anomaly") && e.contains("probaton"), "{e}");
        bad.model = "oracle".into();
        let e = build(&bad, Path::new(".")).err().unwrap().to_string();
        assert!(e.contains("\"oracle\"") && e.contains("anomaly"), "{e}");
    }
}
