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
pub mod forecast;
pub mod rul;
pub mod track;

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
        .chain(crate::areas::REGISTRY.iter().map(|(n, _)| *n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether [`REGISTRY`] or the area models ([`crate::areas::REGISTRY`])
/// have a model of this name (without building it).
pub fn check_name(model: &str) -> Result<(), Error> {
    if REGISTRY.iter().any(|(n, _)| *n == model) || crate::areas::is_area(model) {
        Ok(())
    } else {
        Err(Error::Unknown(model.to_string()))
    }
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
        self.admits_entity(kind, subtype) && self.admits_measurand(measurand)
    }
    /// Whether readings of `measurand` are admitted (of an admitted entity).
    pub fn admits_measurand(&self, measurand: Measurand) -> bool {
        self.measurands.is_empty() || self.measurands.contains(&measurand)
    }
    /// Whether some reading of an entity of `kind` and `subtype` is admitted.
    pub fn admits_entity(&self, kind: Kind, subtype: &str) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&kind))
            && (self.subtypes.is_empty() || self.subtypes.iter().any(|s| s == subtype))
    }
}

/// One `[[inference]]` entry of a scenario or a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A name from [`REGISTRY`].
    pub model: String,
    /// What the entity's saved state of this model is kept under; the
    /// model's name when not given. Two entries of one model need names.
    pub name: Option<String>,
    #[serde(default)]
    pub select: Selector,
    /// The model's own settings; each model refuses keys it does not know.
    #[serde(default)]
    pub params: toml::Table,
    /// A trained model file, relative to the scenario's folder.
    pub file: Option<String>,
}

impl Spec {
    /// The key the model's per-entity state is saved under.
    pub fn key(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.model)
    }

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
    /// What raised the alert on derived reading `measurand` is over.
    Cleared { measurand: Measurand },
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
    fn follow(self: Arc<Self>) -> Box<dyn Follower>;
    /// A follower from the bytes [`Follower::save`] wrote.
    fn restore(self: Arc<Self>, saved: &[u8]) -> Result<Box<dyn Follower>, Error>;
}

/// One entity's state of one model.
pub trait Follower: Send + Sync {
    /// Takes one observation the model's selector admitted.
    fn step(&mut self, obs: &Observation, out: &mut Outputs);
    fn save(&self) -> Vec<u8>;
}

/// Reads a file an entry names (`file`, relative to the scenario or site
/// file, or compiled in with it) as text, or says why it cannot.
pub type Files<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// A model's constructor: its spec and the files it may read.
type Build = fn(&Spec, Files) -> Result<Arc<dyn Model>, Error>;

/// Every model the twin knows, by the name `[[inference]]` gives.
pub const REGISTRY: &[(&str, Build)] = &[
    ("anomaly", anomaly::build),
    ("forecast", forecast::build),
    ("rul", rul::build),
    ("track", track::build),
];

/// The models a twin runs, each under its key: the followers, built once
/// and shared by every shard, and the specs of its area models
/// ([`crate::areas`]), which the runtime builds one of each of.
#[derive(Clone, Default)]
pub struct Models {
    followers: Arc<[(String, Arc<dyn Model>)]>,
    areas: Arc<[Spec]>,
}

impl Models {
    /// Builds every entry; keys must be distinct.
    pub fn build(specs: &[Spec], files: Files) -> Result<Models, Error> {
        let mut out: Vec<(String, Arc<dyn Model>)> = Vec::with_capacity(specs.len());
        let mut areas: Vec<Spec> = Vec::new();
        for spec in specs {
            let taken = |key: &str| {
                out.iter().any(|(k, _)| k == key) || areas.iter().any(|a| a.key() == key)
            };
            if taken(spec.key()) {
                return Err(Error::Params {
                    model: spec.model.clone(),
                    what: format!(
                        "a second [[inference]] entry under the key {:?}: give each a distinct `name`",
                        spec.key()
                    ),
                });
            }
            if crate::areas::is_area(&spec.model) {
                // Built once here so that a bad entry fails at load.
                crate::areas::build(spec)?;
                areas.push(spec.clone());
            } else {
                out.push((spec.key().to_string(), build(spec, files)?));
            }
        }
        Ok(Models {
            followers: out.into(),
            areas: areas.into(),
        })
    }
    /// Whether no follower model is configured (area models aside).
    pub fn is_empty(&self) -> bool {
        self.followers.is_empty()
    }
    pub fn len(&self) -> usize {
        self.followers.len()
    }
    /// The follower models with their keys, in the order they were
    /// configured.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<dyn Model>)> {
        self.followers.iter().map(|(k, m)| (k.as_str(), m))
    }
    pub fn get(&self, i: usize) -> &Arc<dyn Model> {
        &self.followers[i].1
    }
    /// The position of the model saved under `key`.
    pub fn position(&self, key: &str) -> Option<usize> {
        self.followers.iter().position(|(k, _)| k == key)
    }
    /// A fresh instance of every area model, under its key.
    pub fn areas(&self) -> Vec<(String, Box<dyn crate::areas::Area>)> {
        self.areas
            .iter()
            .map(|spec| {
                let area = crate::areas::build(spec).expect("checked when the models were built");
                (spec.key().to_string(), area)
            })
            .collect()
    }
}

impl std::fmt::Debug for Models {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, m)| (k, m.provenance())))
            .entries(self.areas.iter().map(|a| (a.key(), a.model.as_str())))
            .finish()
    }
}

/// Builds the model a spec names.
pub fn build(spec: &Spec, files: Files) -> Result<Arc<dyn Model>, Error> {
    let (_, build) = REGISTRY
        .iter()
        .find(|(n, _)| *n == spec.model)
        .ok_or_else(|| Error::Unknown(spec.model.clone()))?;
    build(spec, files)
}

/// A follower's state from the bytes its `save` wrote (postcard).
pub(crate) fn saved<T: serde::de::DeserializeOwned>(model: &str, bytes: &[u8]) -> Result<T, Error> {
    postcard::from_bytes(bytes).map_err(|e| Error::State {
        model: model.into(),
        what: e.to_string(),
    })
}

/// [`Files`] for models that read none, and for tests.
pub fn no_files(name: &str) -> Result<String, String> {
    Err(format!("no file {name:?} is available here"))
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
        assert!(build(&spec, &no_files).is_ok());

        let e = toml::from_str::<Spec>("model = \"anomaly\"\nselector = {}").unwrap_err();
        assert!(e.to_string().contains("unknown field `selector`"), "{e}");
        let mut bad = spec.clone();
        bad.params
            .insert("probaton".into(), toml::Value::Integer(3));
        let e = build(&bad, &no_files).err().unwrap().to_string();
        assert!(e.contains("model anomaly") && e.contains("probaton"), "{e}");
        bad.model = "oracle".into();
        let e = build(&bad, &no_files).err().unwrap().to_string();
        assert!(e.contains("\"oracle\"") && e.contains("anomaly"), "{e}");
    }
}
