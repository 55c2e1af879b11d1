//! The soak of `examples/soak` at a small size: every job reported once and
//! as its fault calls for, every delivered payload decrypted by the service,
//! memory and file descriptors checked (Linux). The full size is run with
//! `cargo run --release --example soak --features testing -- 100000`.

#[path = "../examples/soak/driver.rs"]
mod driver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_faults_every_report_right_memory_flat_no_fd_leak() {
    // 2,000 jobs: 20 of each of the ten fault classes.
    let config = driver::Config::new(2_000);
    match driver::run(&config).await {
        Ok(summary) => print!("{summary}"),
        Err(report) => panic!("{report}"),
    }
}
