//! `twin feed`: a recorded series (the I-94 traffic's shape) replayed into
//! a live site by time, through the example map, and read back.

use std::path::Path;
use std::process::Command;

use tonic::transport::Channel;
use twin_proto::v1 as pb;
use twin_proto::v1::twin_client::TwinClient;

mod common;
use common::req;

const SITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/feeds/site.toml");
const MAP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/feeds/i94.toml");

/// `hours` rows in the file's own header and formats, from 2016-10-01;
/// the sixth row's volume is empty, as some rows of the real file are.
fn series(dir: &Path, hours: usize) -> std::path::PathBuf {
    let mut text =
        String::from("datetime,clouds_all,rain_1h,snow_1h,temp,traffic_volume,weather_main\n");
    for h in 0..hours {
        let volume = if h == 5 {
            String::new()
        } else {
            (1000 + 10 * h).to_string()
        };
        text.push_str(&format!(
            "2016-10-{:02} {:02}:00:00,20,0.0,0,{:.2},{volume},Clouds\n",
            1 + h / 24,
            h % 24,
            283.15 + h as f64 * 0.1
        ));
    }
    let path = dir.join("i94.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn feed(addr: &str, file: &Path, extra: &[&str]) -> serde_json::Value {
    let fixed = ["--map", MAP, "--grpc", addr, "--token", "tok", "--json"];
    let mut args = vec!["feed".as_ref(), file.as_os_str()];
    args.extend(fixed.iter().chain(extra).map(|a| std::ffi::OsStr::new(*a)));
    serde_json::from_slice(&common::twin(&args)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_series_replays_into_a_site_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (_run, addr) = common::spawn_run(&[
        "--site".as_ref(),
        SITE.as_ref(),
        "--store".as_ref(),
        store.as_os_str(),
    ]);
    let file = series(dir.path(), 48);
    let r = feed(&addr, &file, &[]);
    assert_eq!(r["rows"], 48);
    // Three measurands a row, less the one empty cell.
    assert_eq!(r["readings"], 3 * 48 - 1, "{r}");
    assert_eq!(
        (r["malformed"].as_u64(), r["refused"].as_u64()),
        (Some(0), Some(0)),
        "{r}"
    );

    let mut c = TwinClient::new(
        Channel::from_shared(addr.clone())
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    let t0 = jiff::Timestamp::from_second(1_475_280_000)
        .unwrap()
        .as_millisecond(); // 2016-10-01T00:00Z
    let h = c
        .get_history(req(pb::GetHistoryRequest {
            id: "sensor/i94-westbound".into(),
            measurand: "traffic_flow".into(),
            from_ms: t0,
            to_ms: t0 + 48 * 3_600_000,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(h.samples.len(), 47);
    assert_eq!(h.samples[0].time_ms, t0);
    let last = h.samples.last().unwrap();
    assert_eq!(last.time_ms, t0 + 47 * 3_600_000);
    let e = c
        .get_entity(req(pb::GetEntityRequest {
            id: "sensor/i94-westbound".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    let temp = e
        .readings
        .iter()
        .find(|r| r.measurand == "temperature")
        .unwrap();
    match temp.value.as_ref().and_then(|v| v.kind.as_ref()) {
        // 283.15 K + 4.7 K, in °C.
        Some(pb::value::Kind::Number(x)) => assert!((x - 14.7).abs() < 1e-6, "{x}"),
        v => panic!("{v:?}"),
    }

    // Paced: at x3600 an hour of the series takes a second, so three
    // rows two hours apart take two seconds at least. Fed again, the
    // readings are older than the twin's: kept in history, refused as
    // current, and counted so.
    let paced = series(dir.path(), 3);
    let r = feed(&addr, &paced, &["--speed", "x3600"]);
    assert!(r["seconds"].as_f64().unwrap() >= 1.9, "{r}");
    assert_eq!(r["refused"], 9, "{r}");
    assert!(
        r["first_refused"]
            .as_str()
            .unwrap()
            .starts_with("out_of_order"),
        "{r}"
    );
}

#[test]
fn a_series_without_a_map_or_with_a_wrong_one_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = series(dir.path(), 2);
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .arg("feed")
        .arg(&file)
        .args(["--grpc", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --map"));
    let bad_map = dir.path().join("bad.toml");
    std::fs::write(
        &bad_map,
        "entity = \"sensor/x\"\ntime = { column = \"when\", format = \"unix_s\" }\n\
         reading = [{ measurand = \"traffic_flow\", column = \"traffic_volume\" }]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .arg("feed")
        .arg(&file)
        .arg("--map")
        .arg(&bad_map)
        .args(["--grpc", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no column `when`"),
        "{err}"
    );
}
