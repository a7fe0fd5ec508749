//! The entry points of entity behaviour: validation, observations, commands and
//! ticks, dispatched to the kind's own handler.
//!
//! Everything here is a pure function of (state, input, context). Outputs go
//! into the [`Ctx`]: events for the bus and commands for the world.

use super::controls::Control;
use super::{Common, KindState, Relation};
use crate::command::{Action, Command};
use crate::event::{AlertId, Event, EventBody, Severity};
use crate::id::{EntityId, Kind};
use crate::measurand::Measurand;
use crate::observation::{Observation, Quality};
use crate::time::SimTime;
use crate::value::{Path, Value, ValueType};

/// Why an input was refused. Each names what was wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    #[error("unknown entity {0}")]
    UnknownEntity(EntityId),
    #[error("{entity} {measurand}: value is not a finite number")]
    NotFinite {
        entity: EntityId,
        measurand: Measurand,
    },
    #[error("{entity} {measurand}: expected a {expected} value, got a {got}")]
    WrongType {
        entity: EntityId,
        measurand: Measurand,
        expected: ValueType,
        got: ValueType,
    },
    #[error("{entity} {measurand}: {value} is outside the valid range [{min}, {max}]")]
    OutOfRange {
        entity: EntityId,
        measurand: Measurand,
        value: f64,
        min: f64,
        max: f64,
    },
    #[error(
        "{entity} {measurand}: observation at {time} is older than the latest at {latest}; kept in history only"
    )]
    OutOfOrder {
        entity: EntityId,
        measurand: Measurand,
        time: SimTime,
        latest: SimTime,
    },
    #[error("{entity}: a {kind} has no {measurand}")]
    NotApplicable {
        entity: EntityId,
        kind: Kind,
        measurand: Measurand,
    },
    #[error(
        "{entity} {measurand}: a forecast needs 1 to {max} points at a positive step, got {points} at {step_ms} ms",
        max = Path::MAX_POINTS
    )]
    BadForecast {
        entity: EntityId,
        measurand: Measurand,
        points: usize,
        step_ms: i64,
    },
    #[error("{entity}: this sensor does not measure {measurand}")]
    NotMeasured {
        entity: EntityId,
        measurand: Measurand,
    },
    #[error("{entity}: {measurand} cannot be commanded")]
    NotCommandable {
        entity: EntityId,
        measurand: Measurand,
    },
    #[error("{entity} {measurand}: `{text}` is not one of {expected}")]
    BadText {
        entity: EntityId,
        measurand: Measurand,
        text: String,
        expected: &'static str,
    },
    #[error("{entity}: {action} is not possible for a {kind}")]
    BadAction {
        entity: EntityId,
        kind: Kind,
        action: &'static str,
    },
    #[error("{entity} {measurand}: alarm limits refused: {reason}")]
    BadLimits {
        entity: EntityId,
        measurand: Measurand,
        reason: String,
    },
    #[error("{entity}: a reminder of {len} bytes is longer than {max}", max = Action::MAX_MESSAGE)]
    LongMessage { entity: EntityId, len: usize },
    #[error("{from}: relation {relation:?} joins the wrong kinds")]
    BadRelation { from: EntityId, relation: Relation },
    #[error("entity {0} already exists")]
    AlreadyExists(EntityId),
    #[error("id {0:?} does not match its name and kind")]
    IdMismatch(EntityId),
    #[error("entity name `{1}` collides with the existing {0}")]
    NameCollision(EntityId, String),
    #[error("batch of {size} items exceeds the limit of {max}")]
    BatchTooLarge { size: usize, max: usize },
    /// The store could not be read, so whether the entity exists is not
    /// known: the input is refused, not taken for an unknown entity.
    #[error("{entity}: the store could not be read: {reason}")]
    StoreUnavailable { entity: EntityId, reason: String },
}

impl InputError {
    /// A short, stable name of the refusal, for counters and API errors.
    pub fn code(&self) -> &'static str {
        use InputError as E;
        match self {
            E::UnknownEntity(_) => "unknown_entity",
            E::NotFinite { .. } => "not_finite",
            E::WrongType { .. } => "wrong_type",
            E::OutOfRange { .. } => "out_of_range",
            E::OutOfOrder { .. } => "out_of_order",
            E::BadForecast { .. } => "bad_forecast",
            E::StoreUnavailable { .. } => "store_unavailable",
            E::NotApplicable { .. } => "not_applicable",
            E::NotMeasured { .. } => "not_measured",
            _ => "refused",
        }
    }
}

/// How an accepted observation was used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// It is now the current value.
    Current,
    /// Older than the current value: history only.
    HistoryOnly,
}

/// The context a handler runs in: the entity, the time, and where outputs go.
pub struct Ctx<'a> {
    entity: EntityId,
    now: SimTime,
    events: &'a mut Vec<Event>,
    commands: &'a mut Vec<Command>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        entity: EntityId,
        now: SimTime,
        events: &'a mut Vec<Event>,
        commands: &'a mut Vec<Command>,
    ) -> Self {
        Ctx {
            entity,
            now,
            events,
            commands,
        }
    }
    pub fn entity(&self) -> EntityId {
        self.entity
    }
    pub fn now(&self) -> SimTime {
        self.now
    }
    /// The same context at another time: what an input of that time emits
    /// (a reading derived late from an earlier observation is stamped with
    /// its own time, as an observation that arrives late is).
    pub fn at(&mut self, time: SimTime) -> Ctx<'_> {
        Ctx {
            entity: self.entity,
            now: time,
            events: self.events,
            commands: self.commands,
        }
    }
    pub fn emit(&mut self, body: EventBody) {
        self.events.push(Event {
            time: self.now,
            entity: self.entity,
            body,
        });
    }
    /// Sends a command on to the world or live sink that will act on it.
    pub fn forward(&mut self, command: Command) {
        self.commands.push(command);
    }
}

/// What each kind implements. Default methods refuse what the kind does not do.
/// Hosts (the runtime's shards) store each kind's state as its own type and call
/// [`observe`], [`command`] and [`tick_kind`] with it.
pub trait KindBehaviour: Clone + Send + Sync + 'static {
    const KIND: Kind;

    fn into_state(self) -> KindState;
    fn from_state(state: KindState) -> Option<Self>;

    /// Which measurands this kind accepts (beyond the universal ones).
    fn accepts(&self, m: Measurand) -> bool;

    /// Kind-specific checks before anything changes (e.g. a status text).
    fn check(&self, _obs: &Observation) -> Result<(), InputError> {
        Ok(())
    }

    /// Called after the reading was recorded as current.
    fn observe(
        &mut self,
        common: &mut Common,
        obs: &Observation,
        ctx: &mut Ctx,
    ) -> Result<(), InputError>;

    /// Actions other than `SetDesired`.
    fn act(
        &mut self,
        _common: &mut Common,
        cmd: &Command,
        ctx: &mut Ctx,
    ) -> Result<(), InputError> {
        Err(InputError::BadAction {
            entity: ctx.entity(),
            kind: Self::KIND,
            action: action_name(&cmd.action),
        })
    }

    /// Periodic upkeep (staleness and the like).
    fn tick(&mut self, _common: &mut Common, _ctx: &mut Ctx) {}

    /// An observation was refused as out of range (sensors flag it).
    fn flag_out_of_range(&mut self, _ctx: &mut Ctx) {}
}

fn action_name(a: &Action) -> &'static str {
    match a {
        Action::SetDesired { .. } => "set desired",
        Action::BeginMaintenance => "begin maintenance",
        Action::EndMaintenance => "end maintenance",
        Action::WorkOrder { .. } => "work order",
        Action::Remind { .. } => "reminder",
        Action::SetLimits { .. } => "set limits",
    }
}

/// Checks a value against its measurand: type, finiteness, valid range.
pub fn validate(entity: EntityId, m: Measurand, value: &Value) -> Result<(), InputError> {
    let expected = m.value_type();
    let got = value.value_type();
    if expected != got {
        return Err(InputError::WrongType {
            entity,
            measurand: m,
            expected,
            got,
        });
    }
    if value.components().any(|x| !x.is_finite()) {
        return Err(InputError::NotFinite {
            entity,
            measurand: m,
        });
    }
    if let Value::Forecast(p) = value
        && (p.step_ms <= 0 || p.points.is_empty() || p.points.len() > Path::MAX_POINTS)
    {
        return Err(InputError::BadForecast {
            entity,
            measurand: m,
            points: p.points.len(),
            step_ms: p.step_ms,
        });
    }
    let (min, max) = match value {
        Value::Point { .. } => (-180.0, 180.0),
        _ => m.valid_range(),
    };
    let out = |x: f64| InputError::OutOfRange {
        entity,
        measurand: m,
        value: x,
        min,
        max,
    };
    match value {
        Value::Point { lat, .. } if !(-90.0..=90.0).contains(lat) => {
            return Err(InputError::OutOfRange {
                entity,
                measurand: m,
                value: *lat,
                min: -90.0,
                max: 90.0,
            });
        }
        _ => {}
    }
    match value.components().find(|x| *x < min || *x > max) {
        Some(x) => Err(out(x)),
        None => Ok(()),
    }
}

/// Measurands any kind accepts: battery of the device reporting for it, and
/// the anomaly score inference derives for any entity it follows.
pub(crate) fn universal(m: Measurand) -> bool {
    matches!(m, Measurand::Battery | Measurand::AnomalyScore)
}

/// Applies an observation to an entity of kind `S` (see [`apply_observation`]).
pub fn observe<S: KindBehaviour>(
    state: &mut S,
    common: &mut Common,
    obs: &Observation,
    ctx: &mut Ctx,
) -> Result<Applied, InputError> {
    if !(state.accepts(obs.measurand) || universal(obs.measurand)) {
        return Err(InputError::NotApplicable {
            entity: obs.entity,
            kind: S::KIND,
            measurand: obs.measurand,
        });
    }
    if let Err(e) = validate(obs.entity, obs.measurand, &obs.value) {
        if matches!(e, InputError::OutOfRange { .. }) {
            state.flag_out_of_range(ctx);
        }
        return Err(e);
    }
    state.check(obs)?;
    if obs.quality == Quality::Bad {
        return Ok(Applied::HistoryOnly);
    }
    let latest = common.readings.get(obs.measurand).map(|r| r.time);
    let limits = common.limits(obs.measurand);
    if common.readings.update(obs, limits, ctx) == Applied::HistoryOnly {
        return Err(InputError::OutOfOrder {
            entity: obs.entity,
            measurand: obs.measurand,
            time: obs.time,
            latest: latest.unwrap_or(SimTime::MIN),
        });
    }
    common.updated = common.updated.max(obs.time);
    state.observe(common, obs, ctx)?;
    Ok(Applied::Current)
}

/// Applies a command to an entity of kind `S`.
pub fn command<S: KindBehaviour>(
    state: &mut S,
    common: &mut Common,
    cmd: &Command,
    ctx: &mut Ctx,
) -> Result<(), InputError> {
    match &cmd.action {
        Action::SetDesired { measurand, value } => {
            let m = *measurand;
            if !m.commandable() {
                return Err(InputError::NotCommandable {
                    entity: cmd.entity,
                    measurand: m,
                });
            }
            if !state.accepts(m) {
                return Err(InputError::NotApplicable {
                    entity: cmd.entity,
                    kind: S::KIND,
                    measurand: m,
                });
            }
            validate(cmd.entity, m, value)?;
            let controls = &mut common.extras_mut().controls;
            let control = Control {
                measurand: m,
                desired: value.clone(),
                since: cmd.time,
            };
            match controls.iter_mut().find(|c| c.measurand == m) {
                Some(c) => *c = control,
                None => controls.push(control),
            }
            ctx.emit(EventBody::DesiredChanged {
                measurand: m,
                value: value.clone(),
            });
            ctx.forward(cmd.clone());
            Ok(())
        }
        Action::SetLimits { measurand, limits } => {
            let m = *measurand;
            if let Some(l) = limits {
                crate::measurand::check_limits(l, m.valid_range()).map_err(|reason| {
                    InputError::BadLimits {
                        entity: cmd.entity,
                        measurand: m,
                        reason,
                    }
                })?;
            }
            if m.value_type() != crate::value::ValueType::Number {
                return Err(InputError::BadLimits {
                    entity: cmd.entity,
                    measurand: m,
                    reason: format!("a {} has no limits", m.value_type()),
                });
            }
            common.set_limits(m, *limits);
            Ok(())
        }
        Action::Remind { measurand, message } => {
            let alert = AlertId::of(cmd.entity, *measurand);
            match message {
                Some(m) if m.len() > Action::MAX_MESSAGE => Err(InputError::LongMessage {
                    entity: cmd.entity,
                    len: m.len(),
                }),
                Some(m) => {
                    ctx.emit(EventBody::AlertRaised {
                        alert,
                        severity: Severity::Info,
                        measurand: *measurand,
                        message: m.clone(),
                    });
                    Ok(())
                }
                None => {
                    ctx.emit(EventBody::AlertCleared { alert });
                    Ok(())
                }
            }
        }
        _ => state.act(common, cmd, ctx),
    }
}

/// Applies an observation to an entity. On error nothing changed, except that a
/// sensor offered an out-of-range value is flagged as such.
pub fn apply_observation(
    common: &mut Common,
    state: &mut KindState,
    obs: &Observation,
    ctx: &mut Ctx,
) -> Result<Applied, InputError> {
    match state {
        KindState::Parcel(s) => observe(s, common, obs, ctx),
        KindState::Machine(s) => observe(s, common, obs, ctx),
        KindState::Sensor(s) => observe(s, common, obs, ctx),
        KindState::Vehicle(s) => observe(s, common, obs, ctx),
        KindState::Zone(s) => observe(s, common, obs, ctx),
    }
}

/// Applies a command to an entity.
pub fn apply_command(
    common: &mut Common,
    state: &mut KindState,
    cmd: &Command,
    ctx: &mut Ctx,
) -> Result<(), InputError> {
    match state {
        KindState::Parcel(s) => command(s, common, cmd, ctx),
        KindState::Machine(s) => command(s, common, cmd, ctx),
        KindState::Sensor(s) => command(s, common, cmd, ctx),
        KindState::Vehicle(s) => command(s, common, cmd, ctx),
        KindState::Zone(s) => command(s, common, cmd, ctx),
    }
}

/// Periodic upkeep of an entity of kind `S` at `ctx.now()`.
pub fn tick_kind<S: KindBehaviour>(state: &mut S, common: &mut Common, ctx: &mut Ctx) {
    state.tick(common, ctx);
}

/// Periodic upkeep at `ctx.now()`.
pub fn tick(common: &mut Common, state: &mut KindState, ctx: &mut Ctx) {
    match state {
        KindState::Parcel(s) => s.tick(common, ctx),
        KindState::Machine(s) => s.tick(common, ctx),
        KindState::Sensor(s) => s.tick(common, ctx),
        KindState::Vehicle(s) => s.tick(common, ctx),
        KindState::Zone(s) => s.tick(common, ctx),
    }
}

/// Parses a text status against the names of an enum, for status observations.
pub(crate) fn parse_text<T: Copy>(
    obs: &Observation,
    options: &[(&str, T)],
    expected: &'static str,
) -> Result<T, InputError> {
    let text = match &obs.value {
        Value::Text(t) => t,
        _ => unreachable!("validated as text"),
    };
    options
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|(_, v)| *v)
        .ok_or_else(|| InputError::BadText {
            entity: obs.entity,
            measurand: obs.measurand,
            text: text.to_string(),
            expected,
        })
}
