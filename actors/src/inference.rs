//! Inference models hosted next to their entities.
//!
//! A shard hosting models gives each entity some model may follow a
//! [`Followers`] component beside its state: one slot per configured model,
//! filled with the model's follower at the first observation it admits.
//! After an observation is applied as current, each admitting model's
//! follower takes it; its derived readings are applied to the same entity
//! through the same behaviour as any observation (so they are validated,
//! stored, watched and queried alike) and its findings become events and
//! alerts. All of it happens inside the input's handling, on the entity's
//! shard, so lockstep replay sees the same outputs whatever the number of
//! workers, and nothing waits on anything but the model's own step.
//!
//! A follower's state is saved with its entity (passivation, checkpoints,
//! durable ingest) and restored when the entity is next activated.

use std::sync::Arc;

use bevy_ecs::prelude::Component;
use twin_core::state::{self, Applied, Common, Ctx, Inferred, KindBehaviour};
use twin_core::{EventBody, Measurand, Observation, Severity, Source};
use twin_infer::models::{Finding, Follower, Models, Outputs};

/// The models of one entity, by the position of the model in [`Models`].
#[derive(Component, Default)]
pub struct Followers {
    slots: Vec<Option<Box<dyn Follower>>>,
    /// Whether each model's selector admits this entity (its kind and
    /// subtype, fixed at creation), so that a step checks the measurand
    /// only.
    admitted: Vec<bool>,
    /// The model behind each derived reading the entity holds.
    provenance: Vec<(Measurand, Arc<str>)>,
}

/// The models a shard hosts, with what their steps share.
pub(crate) struct Host {
    models: Models,
    provenance: Vec<Arc<str>>,
    out: Outputs,
}

impl Host {
    /// `None` when no model is configured: the shard then does no
    /// inference work at all.
    pub fn new(models: Models) -> Option<Host> {
        (!models.is_empty()).then(|| Host {
            provenance: models.iter().map(|(_, m)| m.provenance().into()).collect(),
            models,
            out: Outputs::default(),
        })
    }

    /// The followers of an entity of `kind` and `subtype` activated with
    /// `saved`, or `None` when no model may follow it. A saved state that
    /// no longer restores (a model changed in a way its state cannot
    /// follow) is dropped with a warning, and the model starts afresh.
    pub fn followers(&self, common: &Common, saved: &Inferred) -> Option<Followers> {
        let id = common.id;
        let subtype = common.subtype.name();
        let admitted: Vec<bool> = self
            .models
            .iter()
            .map(|(_, m)| m.selector().admits_entity(id.kind(), &subtype))
            .collect();
        if !admitted.contains(&true) {
            return None;
        }
        let mut f = Followers {
            slots: (0..self.models.len()).map(|_| None).collect(),
            admitted,
            provenance: saved.provenance.clone(),
        };
        for (key, bytes) in &saved.saved {
            let Some(i) = self.models.position(key) else {
                continue;
            };
            match self.models.get(i).clone().restore(bytes) {
                Ok(follower) => f.slots[i] = Some(follower),
                Err(e) => tracing::warn!("{id}: {e}; the model starts afresh"),
            }
        }
        Some(f)
    }

    /// What the entity's record keeps of its followers: provenance always,
    /// and with `states` each model's saved state (for the store).
    pub fn inferred(&self, f: &Followers, states: bool) -> Inferred {
        let saved = if states {
            self.models
                .iter()
                .zip(&f.slots)
                .filter_map(|((key, _), slot)| Some((key.to_string(), slot.as_ref()?.save())))
                .collect()
        } else {
            Vec::new()
        };
        Inferred {
            provenance: f.provenance.clone(),
            saved,
        }
    }

    /// Lets every admitting model follow `obs`, just applied as current to
    /// the entity, and applies what they derive. Derived readings accepted
    /// go to `derived` for the history.
    pub fn follow<S: KindBehaviour>(
        &mut self,
        f: &mut Followers,
        state: &mut S,
        common: &mut Common,
        obs: &Observation,
        ctx: &mut Ctx,
        derived: &mut Vec<Observation>,
    ) {
        if obs.source == Source::Inference {
            return;
        }
        for i in 0..self.models.len() {
            let model = self.models.get(i);
            if !(f.admitted[i] && model.selector().admits_measurand(obs.measurand)) {
                continue;
            }
            let follower = f.slots[i].get_or_insert_with(|| model.clone().follow());
            self.out.clear();
            follower.step(obs, &mut self.out);
            let provenance = &self.provenance[i];
            for r in self.out.readings.drain(..) {
                match state::observe(state, common, &r, &mut ctx.at(r.time)) {
                    Ok(Applied::Current) => {
                        note_provenance(&mut f.provenance, r.measurand, provenance);
                        derived.push(r);
                    }
                    Ok(Applied::HistoryOnly) => derived.push(r),
                    Err(e) => tracing::debug!("{provenance}: derived reading refused: {e}"),
                }
            }
            for finding in self.out.findings.drain(..) {
                found(finding, provenance, common, ctx);
            }
        }
    }
}

fn note_provenance(list: &mut Vec<(Measurand, Arc<str>)>, m: Measurand, by: &Arc<str>) {
    match list.iter_mut().find(|(x, _)| *x == m) {
        Some((_, p)) if Arc::ptr_eq(p, by) => {}
        Some((_, p)) => *p = by.clone(),
        None => list.push((m, by.clone())),
    }
}

/// Turns a finding into its event and the alert on the derived reading.
fn found(finding: Finding, model: &Arc<str>, common: &mut Common, ctx: &mut Ctx) {
    let readings = &mut common.readings;
    match finding {
        Finding::Anomaly { measurand, score } => {
            ctx.emit(EventBody::AnomalyDetected {
                measurand,
                score,
                model: model.clone(),
            });
            let message = format!("{measurand} is unusual: anomaly score {score:.2} ({model})");
            readings.set_alert(
                Measurand::AnomalyScore,
                Some((Severity::Warning, message)),
                ctx,
            );
        }
        Finding::RulBelow { rul, threshold } => {
            ctx.emit(EventBody::RulBelow {
                rul,
                threshold,
                model: model.clone(),
            });
            let message =
                format!("remaining useful life {rul:.0} h is below {threshold:.0} h ({model})");
            readings.set_alert(Measurand::Rul, Some((Severity::Warning, message)), ctx);
        }
        Finding::Cleared { measurand } => readings.set_alert(measurand, None, ctx),
    }
}
