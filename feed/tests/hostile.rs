//! Whatever a client publishes, decoding answers with readings or a
//! named fault, never a panic; and what it reads is within bounds.

use proptest::prelude::*;
use twin_core::SimTime;
use twin_feed::{Clock, Map};

/// The shipped example map, and a route for SenML packs.
fn map() -> Map {
    let text = format!(
        "{}\n{}",
        include_str!("../../examples/feeds/greencity.toml"),
        "[[topic]]\npattern = \"packs/{kind}/{name}\"\nentity = \"{kind}/{name}\"\npayload = \"senml\"\n"
    );
    Map::parse(&text).unwrap()
}

fn clock() -> Clock {
    Clock {
        now: SimTime::hours(3),
        epoch_unix_ms: 1_700_000_000_000,
    }
}

/// Topics near the ones the map and the scheme know, and anything.
fn topic() -> impl Strategy<Value = String> {
    prop_oneof![
        "twin/(sensor|machine|robot|)/[a-z0-9#+/-]{0,12}/(soil_moisture|temperature|pm25|x|)",
        "twin/(sensor|zone)/[a-z0-9-]{1,8}",
        Just("twin/senml".to_string()),
        "greencity/[a-z+#]{0,6}/[a-z0-9]{0,6}/data(/x)?",
        "plant/[a-z]{1,4}/[a-z0-9-]{1,6}/[a-z_]{0,14}",
        "packs/(sensor|machine|robot)/[a-z0-9]{0,6}",
        ".{0,40}",
    ]
}

/// Payloads near the shapes decoders read, and bytes.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "-?[0-9]{0,20}(\\.[0-9]{0,20})?(e-?[0-9]{1,4})?".prop_map(String::into_bytes),
        "(true|false|NaN|inf|-inf|1e400|)".prop_map(String::into_bytes),
        r#"\{"value": ?(-?[0-9]{1,6}|"x"|null|\[1,2\]|true), ?"(unit|time_ms|time|seq|sent_us)": ?(-?[0-9]{1,20}|"K"|"°F"|"furlong"|"2023-11-14T22:14:20Z"|null)\}"#
            .prop_map(String::into_bytes),
        r#"\[\{"(bn|n|bt|t|u|v|vb|vs)": ?(-?[0-9]{1,18}|"sensor/a/"|"Cel"|"pm25"|true|null)(, ?"(n|v|t|u)": ?(-?[0-9]{1,12}|"pm25"|"K"))?\}\]"#
            .prop_map(String::into_bytes),
        r#"\{"ts": ?("2023-11-14T22:14:20Z"|-?[0-9]{1,20}|null), ?"n": ?(-?[0-9]{1,20}|"x"), ?"dht22": ?\{"temperature": ?(-?[0-9]{1,8}|"x")\}, ?"sds011": ?(\{"pm25": ?-?[0-9]{1,8}\}|\[\]|null)\}"#
            .prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..200),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4_000, ..ProptestConfig::default() })]

    #[test]
    fn decoding_never_panics_and_readings_are_bounded(topic in topic(), payload in payload()) {
        let map = map();
        match map.decode(&topic, &payload, &clock()) {
            Ok(d) => {
                prop_assert!(d.readings.len() + d.bad.len() <= twin_feed::reading::MAX_READINGS);
                for r in &d.readings {
                    prop_assert!(!r.target.name.is_empty());
                    prop_assert!(r.target.name.len() <= twin_core::id::MAX_NAME);
                    prop_assert!(!r.target.name.contains('/'));
                    if let Some(x) = r.value.as_f64() {
                        prop_assert!(x.is_finite(), "{} from {:?}", x, payload);
                    }
                }
                for e in &d.bad {
                    prop_assert!(!e.reason.is_empty());
                }
            }
            Err(e) => prop_assert!(!e.reason.is_empty() && !e.detail.is_empty()),
        }
    }
}
