//! The MQTT feed against a real Mosquitto and a real `twin run --site`:
//! what `mosquitto_pub` sends shows up through gRPC, malformed messages are
//! counted and skipped, duplicates are applied once, and a broker restart
//! loses nothing published at QoS 1.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tonic::transport::Channel;
use twin_feed::mosquitto::Mosquitto;
use twin_proto::v1 as pb;
use twin_proto::v1::twin_client::TwinClient;

mod common;
use common::{Run, req};

type Client = TwinClient<Channel>;

const SITE: &str = r#"
name = "test-site"

[[entity]]
id = "parcel/bed-1"
subtype = "vegetables"

[[entity]]
id = "sensor/probe-1"
subtype = "moisture"
attached_to = "parcel/bed-1"

[[entity]]
id = "machine/press-1"
subtype = "press"
"#;

/// Seed 003's shape: an ESP32 with a DHT22 and an SDS011 per zone.
const MAP: &str = r#"
[[topic]]
pattern = "greencity/{zone}/{sensor}/data"
entity = "sensor/{zone}-{sensor}"
time = { field = "ts", format = "unix_ms" }
on_unknown = "create"
subtype = "air-station"
attach_to = "zone/{zone}"
reading = [
  { measurand = "temperature", field = "dht22.t" },
  { measurand = "humidity", field = "dht22.rh" },
  { measurand = "pm25", field = "sds011.pm25", unit = "ug/m3" },
  { measurand = "pm10", field = "sds011.pm10", unit = "ug/m3" },
]
"#;

fn files(dir: &Path) -> (PathBuf, PathBuf) {
    let (site, map) = (dir.join("site.toml"), dir.join("map.toml"));
    std::fs::write(&site, SITE).unwrap();
    std::fs::write(&map, MAP).unwrap();
    (site, map)
}

/// `twin run --site` fed by `broker`, serving gRPC; its store in `store`.
fn start(dir: &Path, store: &Path, broker: &str) -> (Run, String) {
    start_with(dir, store, broker, "4")
}

/// As [`start`], speaking MQTT `version` (4 for 3.1.1, or 5).
fn start_with(dir: &Path, store: &Path, broker: &str, version: &str) -> (Run, String) {
    let (site, map) = files(dir);
    let extra = [
        "--mqtt-version".as_ref(),
        version.as_ref(),
        "--mqtt-map".as_ref(),
        map.as_os_str(),
    ];
    site_run(&site, store, broker, &extra)
}

/// `twin run --site SITE --store STORE --mqtt BROKER EXTRA…`.
fn site_run(site: &Path, store: &Path, broker: &str, extra: &[&OsStr]) -> (Run, String) {
    let mut args: Vec<&OsStr> = vec![
        "--site".as_ref(),
        site.as_os_str(),
        "--store".as_ref(),
        store.as_os_str(),
        "--mqtt".as_ref(),
        broker.as_ref(),
        "--mqtt-client-id".as_ref(),
        "twin-test".as_ref(),
    ];
    args.extend(extra);
    common::spawn_run(&args)
}

async fn connect(addr: String) -> Client {
    let channel = Channel::from_shared(addr).unwrap().connect().await.unwrap();
    TwinClient::new(channel)
}

/// Publishes with `mosquitto_pub` at QoS 1; `extra` adds options.
fn publish(port: u16, topic: &str, payload: &str, extra: &[&str]) {
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .args(["-t", topic, "-m", payload])
        .args(extra)
        .status()
        .expect("mosquitto_pub runs (scripts/mosquitto.sh installs it)");
    assert!(status.success(), "mosquitto_pub {topic}");
}

async fn feed(c: &mut Client) -> pb::Feed {
    let feeds = c
        .list_feeds(req(pb::Empty {}))
        .await
        .unwrap()
        .into_inner()
        .feeds;
    assert_eq!(feeds.len(), 1, "{feeds:?}");
    feeds.into_iter().next().unwrap()
}

/// Polls until `check` holds of the feed, for at most 20 s.
async fn until_feed(c: &mut Client, what: &str, check: impl Fn(&pb::Feed) -> bool) -> pb::Feed {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let f = feed(c).await;
        if check(&f) {
            return f;
        }
        assert!(Instant::now() < deadline, "{what}: {f:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn number(e: &pb::Entity, m: &str) -> Option<f64> {
    let r = e.readings.iter().find(|r| r.measurand == m)?;
    match r.value.as_ref()?.kind.as_ref()? {
        pb::value::Kind::Number(x) => Some(*x),
        _ => None,
    }
}

/// Polls `id` until its `m` reads `want` (within 1e-6), for at most 20 s.
async fn until_reading(c: &mut Client, id: &str, m: &str, want: f64) -> pb::Entity {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(e) = c
            .get_entity(req(pb::GetEntityRequest { id: id.into() }))
            .await
        {
            let e = e.into_inner();
            if number(&e, m).is_some_and(|x| (x - want).abs() < 1e-6) {
                return e;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{id} {m} never read {want}; feed: {:?}",
            feed(c).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_payload_shape_becomes_readings_and_bad_ones_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path()).unwrap();
    let (_run, addr) = start(dir.path(), &dir.path().join("store"), &broker.url());
    let mut c = connect(addr).await;
    until_feed(&mut c, "subscribed", |f| f.connected).await;
    let port = broker.port;

    // A bare number on the default scheme.
    publish(port, "twin/sensor/probe-1/soil_moisture", "23.5", &[]);
    until_reading(&mut c, "sensor/probe-1", "soil_moisture", 23.5).await;
    // JSON with a unit to convert and a time.
    let t = unix_ms() - 1_000;
    publish(
        port,
        "twin/machine/press-1/temperature",
        &format!(r#"{{"value": 320.15, "unit": "K", "time_ms": {t}, "seq": 1}}"#),
        &[],
    );
    let e = until_reading(&mut c, "machine/press-1", "temperature", 47.0).await;
    let r = e
        .readings
        .iter()
        .find(|r| r.measurand == "temperature")
        .unwrap();
    assert_eq!(r.time_ms, t);
    // A SenML pack of two readings.
    publish(
        port,
        "twin/sensor/probe-1",
        r#"[{"n": "battery", "u": "%EL", "v": 81}, {"n": "soil_moisture", "u": "/", "v": 0.25}]"#,
        &[],
    );
    until_reading(&mut c, "sensor/probe-1", "battery", 81.0).await;
    until_reading(&mut c, "sensor/probe-1", "soil_moisture", 25.0).await;
    // Seed 003's message through the map: the station is created, attached
    // to its zone, and each field read in its unit.
    publish(
        port,
        "greencity/north/esp-3/data",
        &format!(
            r#"{{"ts": {}, "dht22": {{"t": 18.5, "rh": 61}}, "sds011": {{"pm25": 12.5, "pm10": 20}}}}"#,
            unix_ms() - 500
        ),
        &[],
    );
    let e = until_reading(&mut c, "sensor/north-esp-3", "pm25", 12.5).await;
    assert_eq!(number(&e, "temperature"), Some(18.5));
    assert_eq!(number(&e, "humidity"), Some(61.0));
    assert_eq!(number(&e, "pm10"), Some(20.0));
    assert_eq!(e.subtype, "air-station");
    assert!(
        e.relations.iter().any(|r| r.target == "zone/north"),
        "{:?}",
        e.relations
    );

    // A malformed payload is counted with its reason and skipped; the next
    // good one is applied.
    let before = feed(&mut c).await;
    publish(port, "twin/sensor/probe-1/soil_moisture", "wet", &[]);
    publish(
        port,
        "twin/sensor/probe-1/soil_moisture",
        "{\"value\": ",
        &[],
    );
    publish(port, "twin/sensor/probe-1/soil_moisture", "31", &[]);
    until_reading(&mut c, "sensor/probe-1", "soil_moisture", 31.0).await;
    let f = until_feed(&mut c, "two malformed", |f| {
        f.malformed == before.malformed + 2
    })
    .await;
    assert_eq!(f.reasons.get("bad_value"), Some(&1), "{f:?}");
    assert_eq!(f.reasons.get("bad_json"), Some(&1), "{f:?}");
    assert!(f.last_error.contains("soil_moisture"), "{}", f.last_error);
    // An unknown entity on the default scheme is refused, not created.
    publish(port, "twin/sensor/ghost/soil_moisture", "5", &[]);
    let f = until_feed(&mut c, "refused", |f| f.refused >= 1).await;
    assert_eq!(f.reasons.get("unknown_entity"), Some(&1), "{f:?}");
    assert!(
        c.get_entity(req(pb::GetEntityRequest {
            id: "sensor/ghost".into()
        }))
        .await
        .is_err()
    );

    // The same reading twice (a redelivery) is applied once.
    let t = unix_ms() + 1_000;
    let dup = format!(r#"{{"value": 33, "time_ms": {t}, "seq": 7}}"#);
    let before = feed(&mut c).await;
    publish(port, "twin/sensor/probe-1/soil_moisture", &dup, &[]);
    publish(port, "twin/sensor/probe-1/soil_moisture", &dup, &[]);
    let f = until_feed(&mut c, "a duplicate", |f| {
        f.duplicates == before.duplicates + 1
    })
    .await;
    assert_eq!(f.applied, before.applied + 1, "{f:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_loses_nothing_published_at_qos_1() {
    broker_restart("4").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_loses_nothing_published_at_qos_1_over_mqtt_5() {
    broker_restart("5").await;
}

async fn broker_restart(version: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Mosquitto::start(dir.path()).unwrap();
    let (_run, addr) = start_with(
        dir.path(),
        &dir.path().join("store"),
        &broker.url(),
        version,
    );
    let mut c = connect(addr).await;
    until_feed(&mut c, "subscribed", |f| f.connected).await;
    let port = broker.port;
    publish(port, "twin/sensor/probe-1/soil_moisture", "20", &[]);
    until_reading(&mut c, "sensor/probe-1", "soil_moisture", 20.0).await;
    let before = feed(&mut c).await;

    // The broker goes down (saving the twin's session) and comes back;
    // a persistent publisher sends while the twin is still away.
    broker.stop().unwrap();
    until_feed(&mut c, "disconnected", |f| !f.connected).await;
    broker.restart().unwrap();
    let t0 = unix_ms() - 60_000;
    let n = 50;
    let lines: String = (0..n)
        .map(|i| {
            format!(
                "{{\"value\": {}, \"time_ms\": {}, \"seq\": {i}}}\n",
                10 + i % 50,
                t0 + i * 100
            )
        })
        .collect();
    let mut pubber = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
        .args(["-t", "twin/sensor/probe-1/battery", "-l"])
        .args(["-c", "-i", "field-gateway"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    pubber
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    assert!(pubber.wait().unwrap().success());
    let f = until_feed(&mut c, "reconnected and caught up", |f| {
        f.connected && f.reconnects >= 1 && f.readings >= before.readings + n as u64
    })
    .await;
    assert_eq!(f.refused, 0, "{f:?}");
    // Every one of the 50 is in the history.
    let h = c
        .get_history(req(pb::GetHistoryRequest {
            id: "sensor/probe-1".into(),
            measurand: "battery".into(),
            from_ms: t0 - 1,
            to_ms: t0 + n * 100 + 1,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(h.samples.len(), n as usize, "{:?}", h.samples.len());
}

/// Runs `twin loadgen ARGS --json --quiet` and returns its JSON report.
fn loadgen(args: &[&str]) -> serde_json::Value {
    let all: Vec<&str> = std::iter::once("loadgen")
        .chain(args.iter().copied())
        .chain(["--json", "--quiet"])
        .collect();
    serde_json::from_slice(&common::twin(&all)).unwrap()
}

/// A receiver started before the sender: `twin loadgen --receive`.
fn receiver(broker: &Mosquitto, args: &[&str]) -> std::process::Child {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["loadgen", "--receive", &broker.url(), "--json", "--quiet"])
        .args(["--client-id", "receiver"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("the receiver subscribes").unwrap();
        if line.starts_with("subscribed to") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    child
}

fn received(child: std::process::Child) -> serde_json::Value {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn loadgen_sends_exactly_what_it_is_asked_and_drops_at_its_rate() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path()).unwrap();
    let n = 5_000u64;
    let rx = receiver(&broker, &["--count", "5000", "--idle", "5s"]);
    let sent = loadgen(&["--sink", &broker.url(), "--count", "5000"]);
    assert_eq!(sent["generated"], n);
    assert_eq!(sent["sent"], n);
    let got = received(rx);
    assert_eq!(
        (got["distinct"].as_u64(), got["duplicates"].as_u64()),
        (Some(n), Some(0)),
        "{got}"
    );
    assert_eq!(got["lost"], 0, "{got}");
    assert!(got["e2e_p99_ms"].as_f64().is_some());

    // A drop rate of 0.2: what arrives is N(1 − r) within 4 %, and the
    // receiver's losses are the generator's drops.
    let rx = receiver(&broker, &["--idle", "2s"]);
    let sent = loadgen(&["--sink", &broker.url(), "--count", "5000", "--drop", "0.2"]);
    let dropped = sent["faults"]["dropped"].as_u64().unwrap();
    let got = received(rx);
    let distinct = got["distinct"].as_u64().unwrap();
    assert_eq!(distinct, n - dropped, "{got} {sent}");
    assert!(
        (distinct as f64 - 4_000.0).abs() < 160.0,
        "{distinct} of 5000 at a drop rate of 0.2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_from_the_generator_are_applied_once_by_the_twin() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path()).unwrap();
    // A twin of the factory, its own world held still, fed by the generator
    // running the same factory.
    let store = dir.path().join("store");
    let url = broker.url();
    let args = [
        "--scenario".as_ref(),
        "factory".as_ref(),
        "--clock".as_ref(),
        "step".as_ref(),
        "--max-skew".as_ref(),
        "30d".as_ref(),
        "--store".as_ref(),
        store.as_os_str(),
        "--mqtt".as_ref(),
        url.as_ref(),
        "--mqtt-client-id".as_ref(),
        "factory-twin".as_ref(),
    ];
    let (_run, addr) = common::spawn_run(&args);
    let mut c = connect(addr).await;
    until_feed(&mut c, "subscribed", |f| f.connected).await;
    let sent = loadgen(&[
        "--sink",
        &broker.url(),
        "--count",
        "3000",
        "--duplicate",
        "0.1",
        "--fault-seed",
        "5",
    ]);
    let duplicated = sent["faults"]["duplicated"].as_u64().unwrap();
    assert!(duplicated > 200, "{sent}");
    // Taken, and every reading's fate settled (messages are counted as
    // they come, applied ones once the store has them).
    let f = until_feed(&mut c, "every message taken", |f| {
        f.messages == 3000 + duplicated
            && f.applied + f.refused + f.duplicates + f.malformed >= f.readings
    })
    .await;
    assert_eq!(f.duplicates, duplicated, "{f:?}");
    assert_eq!(f.readings, 3000 + duplicated);
    assert_eq!(f.malformed, 0, "{f:?}");
    // Each distinct reading was applied or refused once (a reading the
    // twin's own world reported at the same time is kept in history only).
    assert_eq!(f.applied + f.refused, 3000, "{f:?}");
}

/// A site that declares a measurand the binary does not know, with limits
/// of its own for one entity.
const WORKSHOP: &str = r#"
name = "workshop"

[[measurand]]
name = "noise"
unit = "dB"
range = [0.0, 200.0]
alarm = { warning = 85.0, critical = 100.0 }

[[entity]]
id = "sensor/mic-1"
subtype = "microphone"

[[limits]]
entity = "sensor/mic-1"
measurand = "noise"
warning = 60.0
critical = 70.0
"#;

/// The same site a month later, its file no longer declaring anything.
const WORKSHOP_AGAIN: &str = r#"
name = "workshop"

[[entity]]
id = "sensor/mic-1"
subtype = "microphone"
"#;

fn level(e: &pb::Entity, m: &str) -> i32 {
    e.readings
        .iter()
        .find(|r| r.measurand == m)
        .map_or(-1, |r| r.level)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_measurand_is_fed_alarmed_at_its_entity_limit_and_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start(dir.path()).unwrap();
    let store = dir.path().join("store");
    let site = dir.path().join("workshop.toml");
    let start_site = |text: &str| {
        std::fs::write(&site, text).unwrap();
        site_run(&site, &store, &broker.url(), &[])
    };
    let (run, addr) = start_site(WORKSHOP);
    let mut c = connect(addr).await;
    until_feed(&mut c, "subscribed", |f| f.connected).await;
    let ms = c
        .get_measurands(req(pb::Empty {}))
        .await
        .unwrap()
        .into_inner()
        .measurands;
    let noise = ms
        .iter()
        .find(|m| m.name == "noise")
        .expect("GetMeasurands lists it");
    assert!(
        noise.declared && noise.unit == "dB" && noise.max == 200.0,
        "{noise:?}"
    );

    // 75 dB: under the measurand's default warning (85), over this
    // entity's critical (70): the entity's limit raises the alert.
    let t0 = unix_ms() - 10_000;
    for k in 0..4 {
        let p = format!(r#"{{"value": 75, "time_ms": {}}}"#, t0 + k * 1000);
        publish(broker.port, "twin/sensor/mic-1/noise", &p, &[]);
    }
    let e = until_reading(&mut c, "sensor/mic-1", "noise", 75.0).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut e = e;
    while level(&e, "noise") != pb::AlarmLevel::Critical as i32 {
        assert!(Instant::now() < deadline, "never critical: {e:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        e = c
            .get_entity(req(pb::GetEntityRequest {
                id: "sensor/mic-1".into(),
            }))
            .await
            .unwrap()
            .into_inner();
    }
    // Out of its range it is refused, as a built-in would be.
    publish(broker.port, "twin/sensor/mic-1/noise", "250", &[]);
    let f = until_feed(&mut c, "refused", |f| f.refused >= 1).await;
    assert_eq!(f.reasons.get("out_of_range"), Some(&1), "{f:?}");
    // A write token moves the limit: 75 is now only a warning.
    let sent = c
        .send_commands(req(pb::SendCommandsRequest {
            commands: vec![pb::Command {
                entity: "sensor/mic-1".into(),
                action: Some(pb::command::Action::SetLimits(pb::SetLimits {
                    measurand: "noise".into(),
                    limits: Some(pb::AlarmLimits {
                        warning: 72.0,
                        critical: 90.0,
                        falling: false,
                    }),
                })),
                ..Default::default()
            }],
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent.applied, 1, "{sent:?}");
    run.interrupt();

    // Restarted from the store alone: the measurand, its history and the
    // entity's limits are still there.
    let (_run, addr) = start_site(WORKSHOP_AGAIN);
    let mut c = connect(addr).await;
    let e = c
        .get_entity(req(pb::GetEntityRequest {
            id: "sensor/mic-1".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(number(&e, "noise"), Some(75.0));
    let own = e
        .limits
        .iter()
        .find(|l| l.measurand == "noise")
        .expect("own limits kept");
    assert_eq!(own.limits.as_ref().map(|l| l.warning), Some(72.0));
    let h = c
        .get_history(req(pb::GetHistoryRequest {
            id: "sensor/mic-1".into(),
            measurand: "noise".into(),
            from_ms: t0,
            to_ms: t0 + 10_000,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(h.samples.len(), 4);
    until_feed(&mut c, "subscribed", |f| f.connected).await;
    publish(broker.port, "twin/sensor/mic-1/noise", "64", &[]);
    until_reading(&mut c, "sensor/mic-1", "noise", 64.0).await;
}

#[test]
fn a_recording_replays_to_a_file_and_to_a_broker_alike() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("garden.rec");
    let twin = |args: &[&std::ffi::OsStr]| String::from_utf8(common::twin(args)).unwrap();
    let os = |s: &str| std::ffi::OsString::from(s);
    twin(&[
        &os("record"),
        &os("--scenario"),
        &os("garden"),
        &os("--for"),
        &os("6h"),
        &os("--out"),
        rec.as_os_str(),
    ]);
    let file = dir.path().join("garden.ndjson");
    let sink = format!("ndjson:{}", file.display());
    twin(&[&os("replay"), rec.as_os_str(), &os("--sink"), &os(&sink)]);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines.len() > 100,
        "{} observations in 6 h of the garden",
        lines.len()
    );
    assert!(
        lines
            .iter()
            .all(|l| l["entity"].as_str().is_some_and(|e| !e.contains('#')))
    );

    let broker = Mosquitto::start(dir.path()).unwrap();
    let rx = receiver(
        &broker,
        &["--count", &lines.len().to_string(), "--idle", "5s"],
    );
    let url = broker.url();
    twin(&[&os("replay"), rec.as_os_str(), &os("--sink"), &os(&url)]);
    let got = received(rx);
    assert_eq!(got["distinct"], lines.len() as u64, "{got}");
    assert_eq!(got["lost"], 0, "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_speaks_tls_and_trusts_only_its_ca() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();
    let broker = Mosquitto::start_tls(dir.path(), &cert_pem, &key_pem).unwrap();
    let (site, map) = files(dir.path());
    let (store, url) = (dir.path().join("store"), broker.url());
    let run = |ca: Option<&Path>, store: &Path| {
        let mut extra = vec!["--mqtt-map".as_ref(), map.as_os_str()];
        if let Some(ca) = ca {
            extra.extend(["--mqtt-ca".as_ref(), ca.as_os_str()]);
        }
        site_run(&site, store, &url, &extra)
    };
    // Without the CA the broker's certificate is not trusted: no session.
    let (untrusting, addr) = run(None, &dir.path().join("store-2"));
    let mut c = connect(addr).await;
    let f = until_feed(&mut c, "a failed attempt", |f| !f.last_error.is_empty()).await;
    assert!(!f.connected, "{f:?}");
    assert!(
        f.last_error.to_lowercase().contains("certificate"),
        "{}",
        f.last_error
    );
    drop(untrusting);

    let (_run, addr) = run(Some(&cert_pem), &store);
    let mut c = connect(addr).await;
    until_feed(&mut c, "subscribed over TLS", |f| f.connected).await;
    let status = Command::new("mosquitto_pub")
        .args(["-h", "localhost", "-p", &broker.port.to_string(), "-q", "1"])
        .arg("--cafile")
        .arg(&cert_pem)
        .args(["-t", "twin/sensor/probe-1/soil_moisture", "-m", "27.5"])
        .status()
        .unwrap();
    assert!(status.success());
    until_reading(&mut c, "sensor/probe-1", "soil_moisture", 27.5).await;
}
