//! Malformed scenario files and GeoJSON are refused with errors that say
//! which file, which line or feature, and what is wrong.

use std::path::Path;

use twin_scenarios::{Scenario, SimWorld};

const GOOD: &str = r#"
name = "t"
duration = "1d"
tick = "1s"
region = { bbox = [4.84, 45.74, 4.86, 45.76] }

[sensors.acc]
period = "1s"
noise = 0.1

[[factory.machines]]
subtype = "pump"
count = 2
sensors = { vibration_rms = "acc" }
"#;

/// The error of a file that fails to parse, or else to build a world.
fn error(text: &str) -> String {
    Scenario::parse(text, "bad.toml")
        .and_then(|s| SimWorld::new(&s).map(|_| ()))
        .unwrap_err()
        .to_string()
}

#[test]
fn a_good_file_loads_and_builds() {
    let s = Scenario::parse(GOOD, "good.toml").unwrap();
    let w = SimWorld::new(&s).unwrap();
    // A site, two machines, their vibration sensors, two technicians.
    assert_eq!(w.records().len(), 1 + 2 + 2 + 2);
}

#[test]
fn errors_name_the_file_the_line_and_the_field() {
    let e = error(&GOOD.replace("noise = 0.1", "noize = 0.1"));
    assert!(
        e.starts_with("bad.toml: ") && e.contains("line 9") && e.contains("noize"),
        "{e}"
    );

    let e = error(&GOOD.replace("duration = \"1d\"", "duration = \"one day\""));
    assert!(e.contains("line 3") && e.contains("one day"), "{e}");

    let e = error(&GOOD.replace("vibration_rms = \"acc\"", "vibration_rms = \"accel\""));
    assert!(
        e.contains("line 14") && e.contains("`accel`") && e.contains("known: acc"),
        "{e}"
    );

    let e = error(&GOOD.replace("vibration_rms = \"acc\"", "vibration = \"acc\""));
    assert!(e.contains("`vibration` is not a measurand"), "{e}");

    let e = error(&GOOD.replace("{ vibration_rms = \"acc\" }", "{ pm25 = \"acc\" }"));
    assert!(e.contains("nothing here has a true pm25"), "{e}");

    let e = error(&GOOD.replace("count = 2", "count = { uniform = [3, 1] }"));
    assert!(e.contains("line 13"), "{e}");

    let e = error(&GOOD.replace("[4.84, 45.74, 4.86, 45.76]", "[4.86, 45.74, 4.84, 45.76]"));
    assert!(e.contains("region.bbox"), "{e}");

    let e = error(&GOOD.replace("noise = 0.1", "noise = 0.1\ndropout = 1.5"));
    assert!(
        e.contains("sensors.acc.dropout") && e.contains("probability"),
        "{e}"
    );

    let e = error(&GOOD.replace("period = \"1s\"", "period = \"100ms\""));
    assert!(e.contains("shorter than the tick"), "{e}");

    let e =
        error("name = \"t\"\nduration = \"1d\"\ntick = \"1s\"\nregion = { bbox = [0, 0, 1, 1] }\n");
    assert!(
        e.contains("none of [agriculture], [city] or [factory]"),
        "{e}"
    );

    let e = Scenario::load("no/such/file.toml").unwrap_err().to_string();
    assert!(e.starts_with("no/such/file.toml: cannot read"), "{e}");
}

#[test]
fn geojson_errors_name_the_file_and_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = r#"
name = "t"
duration = "1d"
tick = "1h"
region = { bbox = [-6.7, 5.7, -6.5, 5.9] }
[agriculture]
crop = "cocoa"
geometry = "parcels.geojson"
"#;
    let path = dir.path().join("s.toml");
    std::fs::write(&path, scenario).unwrap();
    let build = |geojson: &str| {
        std::fs::write(dir.path().join("parcels.geojson"), geojson).unwrap();
        let s = Scenario::load(&path).unwrap();
        SimWorld::new(&s)
            .map(|w| w.records().len())
            .map_err(|e| e.to_string())
    };
    let ok = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"p1"},"geometry":{"type":"Polygon","coordinates":[[[-6.6,5.8],[-6.59,5.8],[-6.59,5.81],[-6.6,5.8]]]}}]}"#;
    assert_eq!(build(ok), Ok(2), "a farm zone and one parcel");
    let e = build(&ok.replace("Polygon", "Point").replace(
        "[[[-6.6,5.8],[-6.59,5.8],[-6.59,5.81],[-6.6,5.8]]]",
        "[-6.6,5.8]",
    ))
    .unwrap_err();
    assert!(
        e.contains("parcels.geojson") && e.contains("feature 0 (p1)") && e.contains("Point"),
        "{e}"
    );
    let e = build("{ not json").unwrap_err();
    assert!(e.contains("parcels.geojson: not GeoJSON"), "{e}");
    std::fs::remove_file(dir.path().join("parcels.geojson")).unwrap();
    let s = Scenario::load(&path).unwrap();
    let e = SimWorld::new(&s).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("parcels.geojson: cannot read"), "{e}");
    let _ = Path::new(".");
}
