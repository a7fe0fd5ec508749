use super::*;
use crate::areas::Place;
use crate::models::Spec;

/// A 7 × 7 grid of parcels 200 m apart near Soubré.
const SIDE: usize = 7;
const STEP_M: f64 = 200.0;
const ORIGIN: (f64, f64) = (-6.6, 5.8);

fn parcel(i: usize) -> EntityId {
    EntityId::new(Kind::Parcel, &format!("p{i}"))
}

fn place(i: usize) -> Place {
    let (x, y) = ((i % SIDE) as f64 * STEP_M, (i / SIDE) as f64 * STEP_M);
    Place {
        lon: ORIGIN.0 + x / (111_320.0 * ORIGIN.1.to_radians().cos()),
        lat: ORIGIN.1 + y / 110_540.0,
        radius_m: 60.0,
    }
}

/// The sum of twelve uniforms less six from a fixed sequence: about a
/// standard normal.
fn noise(state: &mut u64) -> f64 {
    (0..12)
        .map(|_| {
            *state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*state >> 11) as f64 / (1u64 << 53) as f64
        })
        .sum::<f64>()
        - 6.0
}

/// Severity on parcel `i` on `day`: an outbreak from the centre parcel on
/// day 40 reaching its eight neighbours on day 50, treated on day 75.
fn severity(i: usize, day: f64) -> f64 {
    let (x, y) = ((i % SIDE) as i64 - 3, (i / SIDE) as i64 - 3);
    let start = match x.abs().max(y.abs()) {
        0 => 40.0,
        1 => 50.0,
        _ => return 0.0,
    };
    if day < start {
        return 0.0;
    }
    let grown = 1.0 / (1.0 + 19.0 * (-0.2 * (day - start).min(75.0 - start)).exp());
    if day <= 75.0 {
        grown
    } else {
        grown * (-0.25 * (day - 75.0)).exp()
    }
}

fn keeper() -> Box<dyn Area> {
    let spec: Spec = toml::from_str("model = \"disease_zones\"").unwrap();
    build(&spec).unwrap()
}

/// Runs 150 days of passes every 5 days, each parcel cloudy one pass in
/// five; returns every output by day, restoring the keeper from its saved
/// state on day `restore_on`.
fn run(restore_on: Option<u32>) -> Vec<(u32, AreaOutputs)> {
    let mut k = keeper();
    let mut rng = 7u64;
    let mut outputs = Vec::new();
    for day in 0..150u32 {
        if Some(day) == restore_on {
            let saved = k.save();
            k = keeper();
            k.restore(&saved).unwrap();
        }
        let t = SimTime::days(day as i64) + SimTime::hours(10);
        // Wet weather all along.
        for h in 0..24 {
            let value = Value::Number(90.0);
            k.observe(Reading {
                entity: EntityId::new(Kind::Sensor, "weather"),
                subtype: "weather",
                place: None,
                zones: &[],
                time: SimTime::days(day as i64) + SimTime::hours(h),
                measurand: Measurand::Humidity,
                value: &value,
            });
        }
        if day.is_multiple_of(5) {
            // The season moves every parcel alike.
            let season = 0.75 + 0.08 * (day as f64 / 365.0 * std::f64::consts::TAU).sin();
            for i in 0..SIDE * SIDE {
                let n = noise(&mut rng);
                if (i + day as usize / 5).is_multiple_of(5) {
                    continue;
                }
                let ndvi = season * (1.0 - 0.6 * severity(i, day as f64)) + 0.015 * n;
                let value = Value::Number(ndvi);
                k.observe(Reading {
                    entity: parcel(i),
                    subtype: "cocoa",
                    place: Some(place(i)),
                    zones: &[],
                    time: t,
                    measurand: Measurand::Ndvi,
                    value: &value,
                });
            }
        }
        let mut out = AreaOutputs::default();
        k.step(SimTime::days(day as i64 + 1) + SimTime::hours(12), &mut out);
        if !out.is_empty() {
            outputs.push((day, out));
        }
    }
    outputs
}

fn value(out: &AreaOutputs, m: Measurand) -> Option<&Value> {
    out.readings
        .iter()
        .find(|r| r.measurand == m)
        .map(|r| &r.value)
}

#[test]
fn an_outbreak_is_found_where_it_is_and_closed_after_recovery() {
    let outputs = run(None);
    let created: Vec<(u32, &EntityRecord)> = outputs
        .iter()
        .flat_map(|(d, o)| o.create.iter().map(move |r| (*d, r)))
        .collect();
    assert_eq!(created.len(), 1, "one zone: {created:?}");
    let (opened, zone) = created[0];
    assert_eq!(&*zone.common.subtype.name(), "disease");
    // Severity 0.2 is reached on day 47; passes come every 5 days.
    assert!((45..=56).contains(&opened), "opened on day {opened}");
    // At its widest (day 70) the zone is centred on the middle parcel and
    // affects the nine infected parcels.
    let (_, widest) = outputs
        .iter()
        .rfind(|(d, _)| (66..=74).contains(d))
        .expect("an update near day 70");
    let Some(Value::Point { lon, lat }) = value(widest, Measurand::Position) else {
        panic!("no position")
    };
    let centre = place(3 * SIDE + 3);
    let (dx, dy) = local((*lon, *lat), (centre.lon, centre.lat));
    assert!(dx.hypot(dy) < 100.0, "centre off by {dx:.0}, {dy:.0} m");
    let (_, affects) = &widest.affects[0];
    let infected: Vec<EntityId> = (0..SIDE * SIDE)
        .filter(|i| severity(*i, 70.0) > 0.0)
        .map(parcel)
        .collect();
    let hit = affects.iter().filter(|p| infected.contains(p)).count();
    // Every infected parcel, and a few neighbours whose noise dipped: by
    // default a small drop beside a sick parcel counts (`z_near`).
    assert!(
        hit == infected.len() && affects.len() - hit <= 4,
        "affects {} parcels, {hit} of the {} infected",
        affects.len(),
        infected.len()
    );
    assert_eq!(
        value(widest, Measurand::Suspected),
        Some(&Value::Text("black-pod".into())),
        "grew in wet weather"
    );
    // Treated on day 75: the zone closes once the parcels look healthy.
    let closed = outputs
        .iter()
        .find(|(_, o)| value(o, Measurand::Active) == Some(&Value::Flag(false)))
        .map(|(d, _)| *d)
        .expect("the zone closes");
    assert!((80..=110).contains(&closed), "closed on day {closed}");
    assert!(outputs.iter().all(|(d, o)| *d <= closed || o.is_empty()));
}

#[test]
fn a_restored_keeper_goes_on_as_if_never_stopped() {
    let a = run(None);
    let b = run(Some(60));
    let show = |o: &Vec<(u32, AreaOutputs)>| format!("{o:?}");
    assert_eq!(show(&a), show(&b));
}

#[test]
fn settings_are_checked() {
    let spec: Spec =
        toml::from_str("model = \"disease_zones\"\nparams = { z_suspect = 5.0 }").unwrap();
    let e = build(&spec).err().unwrap().to_string();
    assert!(e.contains("z_recover < z_suspect <= z_strong"), "{e}");
    let spec: Spec =
        toml::from_str("model = \"disease_zones\"\nparams = { settle = \"soon\" }").unwrap();
    assert!(build(&spec).is_err());
}
