//! The viewer against a real twin: `twin run` on the city scenario at small
//! scale, started in this process on a sled store on disk and served over
//! loopback gRPC, driven through the egui_kittest harness as a user would.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use twin::run::{Args, Stop};
use twin_proto::client::Connect;
use twin_proto::v1 as pb;
use twin_viewer::net::Link;
use twin_viewer::{App, Settings};

const TOKEN: &str = "viewer-test-token";

/// A twin running on its own thread until stopped.
struct Twin {
    stop: Stop,
    addr: SocketAddr,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Twin {
    fn start(store: &Path, listen: &str) -> Twin {
        let args = Args::try_parse_from([
            "twin run",
            "--scenario",
            "city",
            "--scale",
            "0.5",
            "--store",
            store.to_str().expect("a UTF-8 temp path"),
            "--listen",
            listen,
            "--token",
            TOKEN,
            "--clock",
            "x60",
            "--forever",
            "--workers",
            "1",
        ])
        .expect("valid twin run arguments");
        let stop = Stop::default();
        let (tx, rx) = mpsc::channel();
        let stopper = stop.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            rt.block_on(twin::run::run(args, stopper, move |addr| {
                let _ = tx.send(addr);
            }))
            .expect("the twin runs");
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the twin starts")
            .expect("the twin serves gRPC");
        Twin {
            stop,
            addr,
            thread: Some(thread),
        }
    }

    fn shut(mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            t.join().expect("the twin stops cleanly");
        }
    }
}

/// Steps the UI until `done` holds, or fails naming what was awaited.
fn wait_for(h: &mut Harness<'_, App>, what: &str, done: impl Fn(&Harness<'_, App>) -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        h.step();
        if done(h) {
            return;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    let a = h.state();
    panic!(
        "waited 30 s for: {what}; link: {:?}; {} entities listed, the twin says {:?}; alerts: {:?}; tab {:?}",
        a.link,
        a.twin.items.len(),
        a.twin.sim.as_ref().map(|s| s.entities),
        a.twin.alerts,
        a.settings.tab,
    );
}

fn has_label(h: &Harness<'_, App>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

/// Sends observations to the twin through a real gRPC client.
fn ingest(addr: SocketAddr, observations: Vec<pb::Observation>) -> pb::IngestAck {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let mut c = Connect {
            url: format!("http://{addr}"),
            token: Some(TOKEN.into()),
            ..Connect::default()
        }
        .connect()
        .await
        .expect("a client connects");
        let batch = pb::IngestRequest {
            batch_id: 1,
            observations,
            durable: false,
        };
        let mut acks = c
            .ingest(tokio_stream::iter(vec![batch]))
            .await
            .expect("ingest opens")
            .into_inner();
        acks.message().await.expect("an ack").expect("one ack")
    })
}

#[test]
fn the_viewer_shows_and_drives_a_running_twin() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let twin = Twin::start(dir.path(), "127.0.0.1:0");
    let addr = twin.addr;
    let settings = Settings {
        url: format!("http://{addr}"),
        ..Settings::default()
    };
    let app = App::connect(settings, Some(TOKEN.into()));
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.show(ui), app);

    // Connect, and the entity list fills: as many entities as the twin has.
    wait_for(&mut h, "the status bar says connected", |h| {
        has_label(h, "Connected to")
    });
    wait_for(&mut h, "every entity listed", |h| {
        let a = h.state();
        a.twin
            .sim
            .as_ref()
            .is_some_and(|s| s.entities > 0 && a.twin.items.len() as u64 == s.entities)
    });
    assert!(has_label(
        &h,
        &format!("{} entities", h.state().twin.items.len())
    ));
    assert!(h.state().twin.get("sensor/loop-0-1").is_some());

    // Select an entity through the search box: the inspector shows its id
    // and a plot with points from its history.
    let search = h.get_by_role(egui::accesskit::Role::TextInput);
    search.focus();
    search.type_text("loop-0-1");
    h.step();
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "the inspector on sensor/loop-0-1", |h| {
        h.state().inspector.id() == Some("sensor/loop-0-1")
    });
    wait_for(&mut h, "a plot of the loop's speed with points", |h| {
        h.state().inspector.points("speed") > 0
    });
    h.step();
    assert!(
        has_label(&h, "sensor/loop-0-1"),
        "the inspector shows the id"
    );
    assert_eq!(h.state().selected.as_deref(), Some("sensor/loop-0-1"));

    // Pause from the simulation panel: simulated time stops.
    h.get_by_label("Simulation").click();
    h.step();
    h.get_by_label("Pause").click();
    wait_for(&mut h, "the twin paused", |h| {
        h.state().twin.sim.as_ref().is_some_and(|s| s.paused)
    });
    let at = h.state().twin.sim.as_ref().map(|s| s.time_ms).unwrap();
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(1500) {
        h.step();
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        h.state().twin.sim.as_ref().map(|s| s.time_ms),
        Some(at),
        "paused time stands still"
    );
    assert!(has_label(&h, "paused"));

    // An alert raised in the runtime appears in the alerts panel: PM2.5
    // far above its critical limit, for the three readings an alarm level
    // must persist.
    let smoke = (1..=3)
        .map(|k| pb::Observation {
            entity: "sensor/aq-0-0".into(),
            time_ms: at + k,
            measurand: "pm25".into(),
            value: Some(pb::Value {
                kind: Some(pb::value::Kind::Number(400.0)),
            }),
            ..Default::default()
        })
        .collect();
    let ack = ingest(addr, smoke);
    assert_eq!(ack.applied, 3, "{:?}", ack.errors);
    h.get_by_label_contains("Alerts").click();
    wait_for(&mut h, "the pm25 alert in the alerts panel", |h| {
        has_label(h, "pm25 400")
    });
    assert!(has_label(&h, "CRITICAL"));

    // Resume: time moves again.
    h.get_by_label("Simulation").click();
    h.step();
    h.get_by_label("Resume").click();
    wait_for(&mut h, "simulated time moving again", |h| {
        h.state()
            .twin
            .sim
            .as_ref()
            .is_some_and(|s| !s.paused && s.time_ms > at)
    });

    // The connection drops: it is shown; the twin comes back: it recovers.
    twin.shut();
    wait_for(&mut h, "the lost connection shown", |h| {
        matches!(h.state().link, Link::Down { .. }) && has_label(h, "Disconnected from")
    });
    let twin = Twin::start(dir.path(), &addr.to_string());
    wait_for(&mut h, "the connection recovered", |h| {
        has_label(h, "Connected to")
    });
    wait_for(&mut h, "the entities listed again", |h| {
        let a = h.state();
        a.twin
            .sim
            .as_ref()
            .is_some_and(|s| a.twin.items.len() as u64 == s.entities)
    });
    twin.shut();
}
