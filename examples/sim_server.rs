//! The embedded Lambda simulator as a standalone process, for `bench/run`.
//!
//! ```text
//! cargo run --release --example sim_server -- [--function orders-fn] [--mappings 1] [--transition-ms 2000]
//! ```
//!
//! Prints `listening on http://127.0.0.1:PORT` (the `AWS_ENDPOINT_URL` to give `serve`), then the
//! UUIDs of the mappings it created, and serves until killed. The function gets `--mappings`
//! Kinesis mappings: the first reads stream `orders`, the others `orders-2`, `orders-3`, …

use std::io::Write;
use std::time::Duration;

use lambda_pause::sim::{SimConfig, Simulator};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: sim_server [--function NAME] [--mappings N] [--transition-ms MS]");
        return Ok(());
    }
    let function = arg(&args, "--function").unwrap_or_else(|| "orders-fn".into());
    let mappings: usize = arg(&args, "--mappings")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1);
    let transition_ms: u64 = arg(&args, "--transition-ms")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(2000);
    let sim = Simulator::start(SimConfig {
        transition_time: Duration::from_millis(transition_ms),
        ..SimConfig::default()
    })
    .await?;
    let mut uuids = Vec::new();
    for i in 0..mappings {
        let stream = if i == 0 {
            "orders".to_string()
        } else {
            format!("orders-{}", i + 1)
        };
        uuids.push(sim.add_mapping(&function, &sim.kinesis_arn(&stream), true));
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", sim.endpoint_url())?;
    for uuid in &uuids {
        writeln!(out, "mapping {uuid}")?;
    }
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await.ok();
    // SIGTERM ends the process by default; SIGINT lands here.
    Ok(())
}
