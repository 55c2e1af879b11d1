//! `send-batch`: one notification to every subscription of a JSON-lines
//! file, streamed (a reader thread parses lines ahead of the sends, a
//! bounded channel in between), with a JSON report line per input line.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use webpush::Subscription;
use webpush::batch::{BatchSender, Job, RetryPolicy};
use webpush::subscription::MAX_JSON_LEN;

use crate::send::{Outcome, Report, SendOptions, runtime};
use crate::util::{EXIT_FAILED, EXIT_OK, Fail, line_text, print_stderr, read_line_capped};

/// Arguments of `send-batch`.
#[derive(Debug, Args)]
pub(crate) struct BatchArgs {
    /// Subscriptions, one `PushSubscription.toJSON()` object per line
    /// (`-` for stdin). Blank lines are skipped.
    #[arg(long, value_name = "FILE")]
    subscriptions: PathBuf,
    #[command(flatten)]
    options: SendOptions,
    /// How many subscriptions are in flight at once (retry waits included).
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    concurrency: u16,
    /// Retries per subscription after a temporary failure (429, 5xx,
    /// timeout, connection), with backoff, honouring Retry-After up to 60 s
    /// (a longer one is reported as is).
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(0..=10))]
    retries: u32,
    /// Write the report (one JSON object per input line) to this file
    /// instead of stdout.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

/// What the reader thread hands over.
enum Item {
    /// A line that parsed: its 1-based number and the subscription.
    Job(u64, Box<Subscription>),
    /// A line that did not: its number and why.
    Invalid(u64, String),
    /// Reading failed after this many lines; nothing follows.
    ReadError(u64, String),
}

/// `send-batch`.
pub(crate) fn send_batch(args: &BatchArgs) -> Result<u8, Fail> {
    let input = open_input(&args.subscriptions)?;
    let payload = args.options.load_payload()?;
    let push_options = args.options.push_options();
    let sink: Box<dyn Write + Send> = match &args.report {
        Some(path) if same_file(path, &args.subscriptions) => {
            return Err(Fail::input(
                "--report names the subscriptions file; it would be overwritten",
            ));
        }
        Some(path) => Box::new(File::create(path).map_err(|e| {
            Fail::input(format!("cannot create report file {}: {e}", path.display()))
        })?),
        None => Box::new(io::stdout()),
    };
    let rt = runtime()?;
    let client = {
        let _guard = rt.enter();
        args.options.client()?
    };

    let ahead = usize::from(args.concurrency).saturating_mul(4);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Item>(ahead);
    // Not joined: on an early stop it may sit in a read of stdin; its send
    // fails once the receiver is gone and it ends.
    std::thread::spawn(move || read_lines(input, &tx));

    let state = Arc::new(Mutex::new(State {
        sink,
        write_error: None,
        read_error: None,
        counts: Counts::default(),
        progress: progress_bar(),
    }));

    let batch = BatchSender::new(client)
        .concurrency(usize::from(args.concurrency))
        .retry(
            RetryPolicy::new()
                .max_attempts(args.retries.saturating_add(1))
                .no_deadline(),
        );
    let payload = Bytes::from(payload);
    let items = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let jobs = {
        let state = Arc::clone(&state);
        let stop = Arc::clone(&state);
        items
            // Stop pulling lines once the report cannot be written.
            .take_while(move |_| std::future::ready(lock(&stop).write_error.is_none()))
            .filter_map(move |item| {
                let job = match item {
                    Item::Job(line, sub) => {
                        Some(Job::new(line, *sub, payload.clone(), push_options.clone()))
                    }
                    Item::Invalid(line, error) => {
                        lock(&state).record(Report::invalid(line, error));
                        None
                    }
                    Item::ReadError(line, error) => {
                        lock(&state).read_error = Some((line, error));
                        None
                    }
                };
                std::future::ready(job)
            })
    };
    rt.block_on(async {
        let mut reports = batch.send_all(jobs);
        while let Some(r) = reports.next().await {
            let mut report = Report::of(&r.result, r.attempts);
            report.line = Some(r.key);
            report.elapsed_ms = Some(millis(r.elapsed));
            let mut state = lock(&state);
            state.record(report);
            if state.write_error.is_some() {
                break;
            }
        }
    });

    let mut state = lock(&state);
    state.progress.finish_and_clear();
    let _ = state.sink.flush();
    let c = state.counts;
    print_stderr(&format!(
        "summary: {} line{}: {} delivered, {} gone, {} rate limited, {} failed, {} invalid",
        c.total(),
        if c.total() == 1 { "" } else { "s" },
        c.delivered,
        c.gone,
        c.rate_limited,
        c.failed,
        c.invalid
    ));
    if let Some(e) = &state.write_error {
        return Err(Fail::failed(format!("cannot write the report: {e}")));
    }
    if let Some((line, e)) = &state.read_error {
        return Err(Fail::failed(format!(
            "cannot read {} after line {line}: {e}",
            args.subscriptions.display()
        )));
    }
    if c.total() == c.delivered {
        Ok(EXIT_OK)
    } else {
        Ok(EXIT_FAILED)
    }
}

/// Whether both paths name one existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn open_input(path: &Path) -> Result<Box<dyn BufRead + Send>, Fail> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::new(io::stdin())));
    }
    let file = File::open(path).map_err(|e| {
        Fail::input(format!(
            "cannot open subscriptions file {}: {e}",
            path.display()
        ))
    })?;
    Ok(Box::new(BufReader::new(file)))
}

/// Reads, numbers and parses lines until the end, a read error, or the
/// receiver is gone.
fn read_lines(mut input: Box<dyn BufRead + Send>, tx: &tokio::sync::mpsc::Sender<Item>) {
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        let item = match read_line_capped(&mut input, &mut buf, MAX_JSON_LEN) {
            Ok(None) => return,
            Ok(Some(len)) => {
                line += 1;
                match parse_line(&buf, len) {
                    None => continue,
                    Some(Ok(sub)) => Item::Job(line, Box::new(sub)),
                    Some(Err(e)) => Item::Invalid(line, e),
                }
            }
            Err(e) => Item::ReadError(line, e.to_string()),
        };
        let stop = matches!(item, Item::ReadError(..));
        if tx.blocking_send(item).is_err() || stop {
            return;
        }
    }
}

/// `None` for a blank line.
fn parse_line(buf: &[u8], len: usize) -> Option<Result<Subscription, String>> {
    let text = line_text(buf, len, MAX_JSON_LEN)?;
    Some(text.and_then(|t| Subscription::from_json(t).map_err(|e| e.to_string())))
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    delivered: u64,
    gone: u64,
    rate_limited: u64,
    failed: u64,
    invalid: u64,
}

impl Counts {
    const fn total(&self) -> u64 {
        self.delivered + self.gone + self.rate_limited + self.failed + self.invalid
    }
}

struct State {
    sink: Box<dyn Write + Send>,
    write_error: Option<io::Error>,
    read_error: Option<(u64, String)>,
    counts: Counts,
    progress: ProgressBar,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    /// Counts a report and writes its line (unless writing failed before).
    fn record(&mut self, report: Report) {
        let c = &mut self.counts;
        match report.outcome {
            Outcome::Delivered => c.delivered += 1,
            Outcome::Gone => c.gone += 1,
            Outcome::RateLimited => c.rate_limited += 1,
            Outcome::Failed | Outcome::KeyMismatch => c.failed += 1,
            Outcome::Invalid => c.invalid += 1,
        }
        self.progress.inc(1);
        self.progress.set_message(format!(
            "{} delivered, {} gone, {} rate-limited, {} failed, {} invalid",
            c.delivered, c.gone, c.rate_limited, c.failed, c.invalid
        ));
        if self.write_error.is_some() {
            return;
        }
        let line = format!("{}\n", report.to_json());
        let sink = &mut self.sink;
        let written = self
            .progress
            .suspend(|| sink.write_all(line.as_bytes()).and_then(|()| sink.flush()));
        if let Err(e) = written {
            self.write_error = Some(e);
        }
    }
}

/// A spinner with counts on stderr, only when stderr is a terminal.
fn progress_bar() -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {pos} done [{elapsed_precise}] {msg}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
