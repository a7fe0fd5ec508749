//! `twin-viewer`: the desktop viewer, or with `--bench` its frame-time
//! benchmark.

use clap::Parser;
use twin_viewer::panels::Tab;
use twin_viewer::{App, Settings, bench};

#[derive(Parser)]
#[command(
    name = "twin-viewer",
    about = "The twin desktop viewer: a map, an inspector and panels over a running twin's gRPC API"
)]
struct Args {
    /// The twin's gRPC address (default: the last one used, or
    /// http://127.0.0.1:50051). Without it, the connect dialog opens.
    #[arg(long)]
    connect: Option<String>,
    /// Bearer token (also `TWIN_TOKEN`).
    #[arg(long, env = "TWIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Select this entity once it is listed (e.g. sensor/aq-2-0).
    #[arg(long)]
    select: Option<String>,
    /// Open this panel at start.
    #[arg(long, value_enum)]
    panel: Option<Tab>,
    /// An NDVI GeoTIFF (`twin ndvi --out`) to lay under the map.
    #[arg(long)]
    raster: Option<std::path::PathBuf>,
    /// Window size in points, WIDTHxHEIGHT.
    #[arg(long, default_value = "1600x1000", value_parser = parse_size)]
    size: (f32, f32),
    /// Render frames headless and print their times instead of opening a window.
    #[arg(long)]
    bench: bool,
    /// Entities in the benchmark's synthetic twin.
    #[arg(long, default_value_t = 100_000, requires = "bench")]
    entities: usize,
    /// Frames the benchmark renders per entity count.
    #[arg(long, default_value_t = 300, requires = "bench")]
    frames: usize,
    /// Print the benchmark's figures as one JSON object.
    #[arg(long, requires = "bench")]
    json: bool,
}

fn parse_size(s: &str) -> Result<(f32, f32), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| format!("`{s}`: expected WIDTHxHEIGHT, e.g. 1600x1000"))?;
    let n = |x: &str| {
        x.trim()
            .parse::<f32>()
            .ok()
            .filter(|v| *v >= 200.0)
            .ok_or_else(|| format!("`{s}`: sizes are numbers of 200 points or more"))
    };
    Ok((n(w)?, n(h)?))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if args.bench {
        let figures = bench::run(args.entities, args.frames, args.size);
        if args.json {
            println!("{}", serde_json::to_string(&figures)?);
        } else {
            println!("{figures:#?}");
        }
        return Ok(());
    }
    // Read before a window opens: a bad file is said at once, by name.
    let raster = args
        .raster
        .as_deref()
        .map(twin_viewer::map::raster::Overlay::load)
        .transpose()?;
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("twin")
            .with_inner_size([args.size.0, args.size.1]),
        ..Default::default()
    };
    eframe::run_native(
        "twin-viewer",
        options,
        Box::new(move |cc| {
            let mut settings: Settings = cc
                .storage
                .and_then(|s| eframe::get_value(s, twin_viewer::settings::KEY))
                .unwrap_or_default();
            let ask = args.connect.is_none();
            if let Some(url) = args.connect {
                settings.url = url;
            }
            let mut app = App::connect(settings, args.token);
            app.preselect(args.select, args.panel);
            app.map.raster = raster;
            if ask {
                app.open_connect_dialog();
            }
            Ok(Box::new(app))
        }),
    )?;
    Ok(())
}
