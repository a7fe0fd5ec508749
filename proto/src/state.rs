//! Each kind's state as its typed message, and the enums of statuses,
//! levels and relations: what a client reads without parsing names.
//!
//! Why one mapping per enum rather than names on the wire: a client
//! generated from the proto gets its types and every value it may meet; a
//! new status is a compile-time change on both sides, not a string the
//! viewer fails to recognise.

use twin_core::state::{
    AlarmLevel, CropHealth, GrowthStage, KindState, MachineState, MachineStatus, ParcelState,
    SensorState, Status, VehicleMode, VehicleState, VehicleStatus, ZoneState, ZoneType,
};
use twin_core::{Quality, Relation};

use crate::v1 as pb;

pub fn alarm_level(l: AlarmLevel) -> pb::AlarmLevel {
    match l {
        AlarmLevel::Normal => pb::AlarmLevel::Normal,
        AlarmLevel::Warning => pb::AlarmLevel::Warning,
        AlarmLevel::Critical => pb::AlarmLevel::Critical,
    }
}

pub fn quality(q: Quality) -> pb::Quality {
    match q {
        Quality::Ok => pb::Quality::Ok,
        Quality::Uncertain => pb::Quality::Uncertain,
        Quality::Bad => pb::Quality::Bad,
        Quality::Stale => pb::Quality::Stale,
        Quality::Stuck => pb::Quality::Stuck,
        Quality::OutOfRange => pb::Quality::OutOfRange,
    }
}

fn machine_status(s: MachineStatus) -> pb::MachineStatus {
    match s {
        MachineStatus::Running => pb::MachineStatus::Running,
        MachineStatus::Idle => pb::MachineStatus::Idle,
        MachineStatus::Down => pb::MachineStatus::Down,
        MachineStatus::Maintenance => pb::MachineStatus::Maintenance,
    }
}

fn vehicle_status(s: VehicleStatus) -> pb::VehicleStatus {
    match s {
        VehicleStatus::Parked => pb::VehicleStatus::Parked,
        VehicleStatus::EnRoute => pb::VehicleStatus::EnRoute,
        VehicleStatus::InService => pb::VehicleStatus::InService,
        VehicleStatus::OutOfService => pb::VehicleStatus::OutOfService,
    }
}

fn crop_health(h: CropHealth) -> pb::CropHealth {
    match h {
        CropHealth::Unknown => pb::CropHealth::Unknown,
        CropHealth::Healthy => pb::CropHealth::Healthy,
        CropHealth::Stressed => pb::CropHealth::Stressed,
        CropHealth::Critical => pb::CropHealth::Critical,
    }
}

fn growth_stage(g: GrowthStage) -> pb::GrowthStage {
    match g {
        GrowthStage::Dormant => pb::GrowthStage::Dormant,
        GrowthStage::Vegetative => pb::GrowthStage::Vegetative,
        GrowthStage::Flowering => pb::GrowthStage::Flowering,
        GrowthStage::Fruiting => pb::GrowthStage::Fruiting,
        GrowthStage::Ripening => pb::GrowthStage::Ripening,
        GrowthStage::Senescent => pb::GrowthStage::Senescent,
    }
}

fn vehicle_mode(m: VehicleMode) -> pb::VehicleMode {
    match m {
        VehicleMode::Bus => pb::VehicleMode::Bus,
        VehicleMode::Taxi => pb::VehicleMode::Taxi,
        VehicleMode::Bike => pb::VehicleMode::Bike,
        VehicleMode::Tractor => pb::VehicleMode::Tractor,
        VehicleMode::Technician => pb::VehicleMode::Technician,
    }
}

fn zone_type(z: ZoneType) -> pb::ZoneType {
    match z {
        ZoneType::District => pb::ZoneType::District,
        ZoneType::Parking => pb::ZoneType::Parking,
        ZoneType::Disease => pb::ZoneType::Disease,
        ZoneType::AirQuality => pb::ZoneType::AirQuality,
        ZoneType::Site => pb::ZoneType::Site,
    }
}

pub fn relation_type(r: &Relation) -> pb::RelationType {
    match r {
        Relation::AttachedTo(_) => pb::RelationType::AttachedTo,
        Relation::LiesIn(_) => pb::RelationType::LiesIn,
        Relation::Affects(_) => pb::RelationType::Affects,
        Relation::FedBy(_) => pb::RelationType::FedBy,
    }
}

/// A status of any kind (status events).
pub fn status(s: &Status) -> pb::Status {
    use pb::status::Status as S;
    let status = match *s {
        Status::Machine(m) => S::Machine(machine_status(m) as i32),
        Status::Sensor(q) => S::Sensor(quality(q) as i32),
        Status::Vehicle(v) => S::Vehicle(vehicle_status(v) as i32),
        Status::Zone(l) => S::Zone(alarm_level(l) as i32),
        Status::Crop(h) => S::Crop(crop_health(h) as i32),
    };
    pb::Status {
        status: Some(status),
    }
}

fn parcel(p: &ParcelState) -> pb::ParcelState {
    pb::ParcelState {
        crop: p.crop.clone(),
        area_ha: p.area_ha,
        ndvi: p.ndvi,
        soil_moisture: p.soil_moisture,
        growth_stage: growth_stage(p.growth_stage) as i32,
        predicted_yield_t_ha: p.predicted_yield_t_ha,
        health: crop_health(p.health) as i32,
    }
}

fn machine(m: &MachineState) -> pb::MachineState {
    pb::MachineState {
        status: machine_status(m.status) as i32,
        health_index: m.health_index,
        operating_hours: m.operating_hours,
        rul: m.rul.as_ref().map(|r| pb::RulEstimate {
            hours: r.hours,
            low: r.low,
            high: r.high,
            at_ms: r.at.as_ms(),
        }),
        last_maintenance_ms: m.last_maintenance.map(|t| t.as_ms()),
    }
}

fn sensor(s: &SensorState) -> pb::SensorState {
    pb::SensorState {
        measurands: s.measurands.iter().map(|m| m.name().to_string()).collect(),
        sampling_period_ms: s.sampling_period_ms,
        battery_pct: s.battery_pct,
        quality: quality(s.quality) as i32,
    }
}

fn vehicle(v: &VehicleState) -> pb::VehicleState {
    pb::VehicleState {
        mode: vehicle_mode(v.mode) as i32,
        heading_deg: v.heading_deg,
        speed_kmh: v.speed_kmh,
        route: v.route.clone().unwrap_or_default(),
        load_pct: v.load_pct,
        status: vehicle_status(v.status) as i32,
    }
}

fn zone(z: &ZoneState) -> pb::ZoneState {
    pb::ZoneState {
        zone_type: zone_type(z.zone_type) as i32,
        alert_level: alarm_level(z.alert_level) as i32,
    }
}

/// A kind's state as the entity's `state` field.
pub fn kind_state(s: &KindState) -> pb::entity::State {
    use pb::entity::State;
    match s {
        KindState::Parcel(p) => State::Parcel(parcel(p)),
        KindState::Machine(m) => State::Machine(machine(m)),
        KindState::Sensor(x) => State::Sensor(sensor(x)),
        KindState::Vehicle(v) => State::Vehicle(vehicle(v)),
        KindState::Zone(z) => State::Zone(zone(z)),
    }
}
