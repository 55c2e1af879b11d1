//! Soak under faults and load: sends many notifications through the batch
//! API to the local push service while it injects faults on a fixed share
//! of them (410, 429 with `Retry-After`, 500, responses held past the
//! timeout, dropped connections, oversized response bodies, and transient
//! versions of some), then checks every report, every decrypted payload,
//! memory and file descriptors. See `driver.rs` for what is checked.
//!
//! ```text
//! cargo run --release --example soak --features testing -- 100000
//! cargo run --release --example soak --features testing -- 100000 128
//! ```
//!
//! Arguments: jobs (default 2,000, or `WEBPUSH_SOAK_JOBS`), then jobs in
//! flight (default 64). Exits with status 1 when a check fails.

mod driver;

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let jobs = args
        .next()
        .or_else(|| std::env::var("WEBPUSH_SOAK_JOBS").ok())
        .map_or(Ok(2_000), |s| s.replace('_', "").parse::<u64>());
    let concurrency = args.next().map_or(Ok(64), |s| s.parse::<usize>());
    let (Ok(jobs), Ok(concurrency)) = (jobs, concurrency) else {
        eprintln!("usage: soak [JOBS] [CONCURRENCY]");
        return std::process::ExitCode::from(2);
    };
    let config = driver::Config {
        concurrency: concurrency.max(1),
        ..driver::Config::new(jobs)
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("no tokio runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(driver::run(&config)) {
        Ok(summary) => {
            print!("{summary}");
            println!("all checks passed");
            std::process::ExitCode::SUCCESS
        }
        Err(report) => {
            eprint!("{report}");
            std::process::ExitCode::FAILURE
        }
    }
}
