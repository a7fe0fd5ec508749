//! Area models hosted by the runtime: a disease zone opened over the
//! parcels whose NDVI dropped, kept as a zone entity with `affects`
//! relations indexed in the store, carried over a restart, and closed
//! after recovery. Real shard actors, a real store on disk.

use twin_actors::{Runtime, RuntimeConfig};
use twin_core::state::{ParcelState, Relation, ZoneShape};
use twin_core::store::{Retention, Store};
use twin_core::{EntityId, EntityRecord, Kind, KindState, Measurand, Observation, SimTime, Value};
use twin_infer::models::{Models, Spec, no_files};

/// A 6 × 6 grid of 1-ha parcels, 150 m apart.
const SIDE: usize = 6;

fn parcel(i: usize) -> EntityRecord {
    let (x, y) = ((i % SIDE) as f64 * 150.0, (i / SIDE) as f64 * 150.0);
    let (lon0, lat0): (f64, f64) = (-6.6, 5.8);
    let per_lon = 111_320.0 * lat0.to_radians().cos();
    let square = |dx: f64, dy: f64| (lon0 + (x + dx) / per_lon, lat0 + (y + dy) / 110_540.0);
    let ring: Vec<(f64, f64)> = [(-50.0, -50.0), (50.0, -50.0), (50.0, 50.0), (-50.0, 50.0)]
        .iter()
        .map(|(dx, dy)| square(*dx, *dy))
        .collect();
    let polygon = geo::Polygon::new(ring.into(), vec![]);
    EntityRecord::new(Kind::Parcel, &format!("p{i}"), "cocoa")
        .with_state(KindState::Parcel(ParcelState::new("cocoa", polygon)))
}

/// The three parcels around the grid's middle that fall sick.
const SICK: [usize; 3] = [14, 15, 21];

fn config() -> RuntimeConfig {
    // Only the parcels seen sick: no neighbour joins on a small drop, no
    // parcel between them is taken in.
    let spec: Spec =
        toml::from_str("model = \"disease_zones\"\nparams = { z_near = 2.5, fill = false }")
            .unwrap();
    RuntimeConfig {
        workers: 2,
        models: Models::build(&[spec], &no_files).unwrap(),
        ..RuntimeConfig::default()
    }
}

/// One pass on `day`: every parcel about 0.8 with a fixed wobble; the
/// sick ones down by `drop`.
fn pass(day: i64, drop: f64) -> Vec<Observation> {
    (0..SIDE * SIDE)
        .map(|i| {
            let wobble = (((i as i64 * 7919 + day * 104_729) % 11) as f64 / 11.0 - 0.5) * 0.02;
            let v = 0.8 + wobble - if SICK.contains(&i) { drop } else { 0.0 };
            Observation::number(
                parcel(i).id(),
                SimTime::days(day) + SimTime::hours(10),
                Measurand::Ndvi,
                v,
            )
        })
        .collect()
}

/// Ingests the pass and ticks the day after, when it has settled.
async fn day(rt: &Runtime, day: i64, drop: f64) {
    let report = rt.ingest(pass(day, drop), false).await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    rt.tick(SimTime::days(day + 1) + SimTime::hours(12))
        .await
        .unwrap();
}

fn zone_id() -> EntityId {
    EntityId::new(Kind::Zone, "disease-0001")
}

fn affects(r: &EntityRecord) -> Vec<EntityId> {
    let mut v: Vec<EntityId> = r.common.affects().collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disease_zone_opens_over_the_sick_parcels_survives_a_restart_and_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let mut sick: Vec<EntityId> = SICK.iter().map(|i| parcel(*i).id()).collect();
    sick.sort();
    {
        let store = Store::open(&path, Retention::default()).unwrap();
        let rt = Runtime::start(config(), Some(store.clone())).unwrap();
        let records: Vec<EntityRecord> = (0..SIDE * SIDE).map(parcel).collect();
        rt.create(records, SimTime::ZERO).await.unwrap();
        for d in [0, 5, 10, 15] {
            day(&rt, d, 0.0).await;
        }
        assert!(rt.get(zone_id()).await.unwrap().is_none(), "no zone yet");
        day(&rt, 20, 0.25).await;
        let zone = rt.get(zone_id()).await.unwrap().expect("a zone opened");
        assert_eq!(&*zone.common.subtype.name(), "disease");
        assert_eq!(affects(&zone), sick);
        let active = zone.common.readings.get(Measurand::Active).unwrap();
        assert_eq!(active.value, Value::Flag(true));
        let severity = zone.common.readings.get(Measurand::Severity).unwrap();
        let s = severity.value.as_f64().unwrap();
        assert!((0.3..0.7).contains(&s), "severity {s}");
        // The shape follows the zone's readings: centred among the three.
        let KindState::Zone(z) = &zone.state else {
            panic!("a zone")
        };
        let Some(ZoneShape::Circle { radius_m, .. }) = z.shape else {
            panic!("a circle")
        };
        assert!((100.0..300.0).contains(&radius_m), "radius {radius_m}");
        // Indexed both ways: a parcel knows the zone over it.
        let over = store.relations_to(sick[0]).unwrap();
        assert!(over.contains(&(zone_id(), Relation::Affects(sick[0]))));
        rt.checkpoint().await.unwrap();
        rt.shutdown().await.unwrap();
    }
    // After a restart the keeper goes on with the zone it opened.
    let store = Store::open(&path, Retention::default()).unwrap();
    let rt = Runtime::start(config(), Some(store.clone())).unwrap();
    day(&rt, 25, 0.3).await;
    let zone = rt.get(zone_id()).await.unwrap().unwrap();
    assert_eq!(affects(&zone), sick);
    assert!(
        rt.get(EntityId::new(Kind::Zone, "disease-0002"))
            .await
            .unwrap()
            .is_none(),
        "the same zone goes on"
    );
    // Recovered: within two clear passes the zone closes and affects
    // nothing.
    day(&rt, 30, 0.0).await;
    day(&rt, 35, 0.0).await;
    let zone = rt.get(zone_id()).await.unwrap().unwrap();
    assert_eq!(
        zone.common.readings.get(Measurand::Active).unwrap().value,
        Value::Flag(false)
    );
    assert!(affects(&zone).is_empty());
    assert!(store.relations_to(sick[0]).unwrap().is_empty());
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_gets_the_five_minute_means_of_what_lies_in_it() {
    let spec: Spec = toml::from_str("model = \"district_aggregates\"").unwrap();
    let rt = Runtime::start(
        RuntimeConfig {
            workers: 2,
            models: Models::build(&[spec], &no_files).unwrap(),
            ..RuntimeConfig::default()
        },
        None,
    )
    .unwrap();
    let district = EntityRecord::new(Kind::Zone, "district-0", "district");
    let elsewhere = EntityRecord::new(Kind::Zone, "district-1", "district");
    let sensor = |name: &str, zone: &EntityRecord| {
        EntityRecord::new(Kind::Sensor, name, "loop")
            .with_state(KindState::Sensor(twin_core::state::SensorState::measuring(
                &[Measurand::Speed, Measurand::Pm25],
                SimTime::secs(60),
            )))
            .with_relation(Relation::LiesIn(zone.id()))
    };
    let (a, b, c) = (
        sensor("loop-a", &district),
        sensor("loop-b", &district),
        sensor("loop-c", &elsewhere),
    );
    let ids = (a.id(), b.id(), c.id());
    rt.create(vec![district.clone(), elsewhere, a, b, c], SimTime::ZERO)
        .await
        .unwrap();
    let obs = |id, t, m, x| Observation::number(id, SimTime::secs(t), m, x);
    rt.ingest(
        vec![
            obs(ids.0, 60, Measurand::Speed, 40.0),
            obs(ids.1, 60, Measurand::Speed, 20.0),
            obs(ids.2, 60, Measurand::Speed, 90.0),
            obs(ids.0, 120, Measurand::Pm25, 9.0),
        ],
        false,
    )
    .await
    .unwrap();
    rt.tick(SimTime::secs(360)).await.unwrap();
    let d = rt.get(district.id()).await.unwrap().unwrap();
    let speed = d.common.readings.get(Measurand::Speed).unwrap();
    assert_eq!(speed.value, Value::Number(30.0));
    assert_eq!(
        speed.time,
        SimTime::secs(300),
        "stamped at the window's end"
    );
    let aqi = d.common.readings.get(Measurand::Aqi).unwrap();
    assert_eq!(aqi.value, Value::Number(50.0));
    rt.shutdown().await.unwrap();
}
