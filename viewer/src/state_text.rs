//! The typed state of the contract as the words the viewer shows and
//! colours by: `MACHINE_STATUS_EN_ROUTE` is "en_route", a parcel's status
//! is its crop health, a zone's its alert level.

use twin_proto::v1 as pb;

/// The lowercase word of a proto enum value, without its type's prefix.
fn word(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_lowercase()
}

pub fn alarm(l: pb::AlarmLevel) -> String {
    word(l.as_str_name(), "ALARM_LEVEL_")
}

pub fn quality(q: pb::Quality) -> String {
    word(q.as_str_name(), "QUALITY_")
}

pub fn work_order(s: pb::WorkOrderState) -> String {
    word(s.as_str_name(), "WORK_ORDER_STATE_")
}

pub fn plan(s: pb::PlanState) -> String {
    word(s.as_str_name(), "PLAN_STATE_")
}

pub fn relation(r: pb::RelationType) -> String {
    word(r.as_str_name(), "RELATION_TYPE_")
}

/// A status of any kind, as a status event carries it.
pub fn status(s: Option<&pb::Status>) -> String {
    use pb::status::Status as S;
    let text = match s.and_then(|s| s.status) {
        Some(S::Machine(v)) => pb::MachineStatus::try_from(v)
            .ok()
            .map(|x| word(x.as_str_name(), "MACHINE_STATUS_")),
        Some(S::Sensor(v)) => pb::Quality::try_from(v).ok().map(quality),
        Some(S::Vehicle(v)) => pb::VehicleStatus::try_from(v)
            .ok()
            .map(|x| word(x.as_str_name(), "VEHICLE_STATUS_")),
        Some(S::Zone(v)) => pb::AlarmLevel::try_from(v).ok().map(alarm),
        Some(S::Crop(v)) => pb::CropHealth::try_from(v)
            .ok()
            .map(|x| word(x.as_str_name(), "CROP_HEALTH_")),
        None => None,
    };
    text.unwrap_or_default()
}

/// An entity's status word and, for a zone, its type.
pub fn status_of(e: &pb::Entity) -> (String, String) {
    use pb::entity::State;
    match &e.state {
        Some(State::Machine(m)) => (
            word(m.status().as_str_name(), "MACHINE_STATUS_"),
            String::new(),
        ),
        Some(State::Vehicle(v)) => (
            word(v.status().as_str_name(), "VEHICLE_STATUS_"),
            String::new(),
        ),
        Some(State::Sensor(s)) => (quality(s.quality()), String::new()),
        Some(State::Parcel(p)) => (
            word(p.health().as_str_name(), "CROP_HEALTH_"),
            String::new(),
        ),
        Some(State::Zone(z)) => (
            alarm(z.alert_level()),
            word(z.zone_type().as_str_name(), "ZONE_TYPE_"),
        ),
        None => (String::new(), String::new()),
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_string(), crate::format::number)
}

/// Every field of an entity's kind-specific state, as (label, text).
pub fn fields(e: &pb::Entity) -> Vec<(&'static str, String)> {
    use pb::entity::State;
    let n = crate::format::number;
    match &e.state {
        Some(State::Parcel(p)) => vec![
            ("crop", p.crop.clone()),
            ("area_ha", n(p.area_ha)),
            ("ndvi", opt(p.ndvi)),
            ("soil_moisture", opt(p.soil_moisture)),
            (
                "growth_stage",
                word(p.growth_stage().as_str_name(), "GROWTH_STAGE_"),
            ),
            ("predicted_yield_t_ha", opt(p.predicted_yield_t_ha)),
            ("health", word(p.health().as_str_name(), "CROP_HEALTH_")),
        ],
        Some(State::Machine(m)) => vec![
            ("status", word(m.status().as_str_name(), "MACHINE_STATUS_")),
            ("health_index", opt(m.health_index)),
            ("operating_hours", n(m.operating_hours)),
            (
                "rul",
                m.rul.as_ref().map_or_else(
                    || "—".to_string(),
                    |r| format!("{} h ({}–{})", n(r.hours), n(r.low), n(r.high)),
                ),
            ),
            (
                "last_maintenance",
                m.last_maintenance_ms
                    .map_or_else(|| "—".to_string(), crate::format::sim_time),
            ),
        ],
        Some(State::Sensor(s)) => vec![
            ("measurands", s.measurands.join(", ")),
            ("sampling_period_ms", s.sampling_period_ms.to_string()),
            ("battery_pct", opt(s.battery_pct.map(f64::from))),
            ("quality", quality(s.quality())),
        ],
        Some(State::Vehicle(v)) => vec![
            ("mode", word(v.mode().as_str_name(), "VEHICLE_MODE_")),
            ("status", word(v.status().as_str_name(), "VEHICLE_STATUS_")),
            ("speed_kmh", n(v.speed_kmh)),
            ("heading_deg", n(v.heading_deg)),
            ("route", v.route.clone()),
            ("load_pct", opt(v.load_pct)),
        ],
        Some(State::Zone(z)) => vec![
            ("zone_type", word(z.zone_type().as_str_name(), "ZONE_TYPE_")),
            ("alert_level", alarm(z.alert_level())),
        ],
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_values_read_as_the_words_the_viewer_colours_by() {
        let e = pb::Entity {
            state: Some(pb::entity::State::Vehicle(pb::VehicleState {
                status: pb::VehicleStatus::EnRoute as i32,
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(status_of(&e).0, "en_route");
        let s = pb::Status {
            status: Some(pb::status::Status::Machine(pb::MachineStatus::Down as i32)),
        };
        assert_eq!(status(Some(&s)), "down");
        assert_eq!(relation(pb::RelationType::LiesIn), "lies_in");
    }
}
