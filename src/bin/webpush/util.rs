//! Errors, exit codes and capped I/O shared by the subcommands.

use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::path::Path;
use std::process::ExitCode;

/// Exit status: delivered, or the command did what was asked.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit status: the push failed for good, or an I/O error mid-way.
pub(crate) const EXIT_FAILED: u8 = 1;
/// Exit status: usage error or bad input (file, key, JSON, subject,
/// payload too large, endpoint refused by policy); nothing was sent.
pub(crate) const EXIT_INPUT: u8 = 2;
/// Exit status: the subscription is gone (404/410): delete it.
pub(crate) const EXIT_GONE: u8 = 3;
/// Exit status: temporary failure (429, 5xx, timeout, connection): retry
/// later, after the `retry-after` printed if any.
pub(crate) const EXIT_RETRY: u8 = 4;

/// A failure that ends the command: one `error:` line and an exit status.
#[derive(Debug)]
pub(crate) struct Fail {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl Fail {
    /// Bad input or usage: exit status 2.
    pub(crate) fn input(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_INPUT,
            message: message.into(),
        }
    }

    /// Any other failure: exit status 1.
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_FAILED,
            message: message.into(),
        }
    }
}

/// Prints `error: message` on one line to stderr.
pub(crate) fn print_error(message: &str) {
    let _ = writeln!(io::stderr().lock(), "error: {}", one_line(message));
}

/// Prints a line to stderr, ignoring failures (stderr may be closed).
pub(crate) fn print_stderr(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Control characters (newlines included) become spaces, so that every
/// message is a single line.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// An error with its sources, each added unless its text is already
/// there, on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = s.source();
    }
    one_line(&message)
}

/// Writes to stdout and flushes.
pub(crate) fn write_stdout(bytes: &[u8]) -> Result<(), Fail> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Fail::failed(format!("cannot write to stdout: {e}")))
}

/// Writes a line to stdout.
pub(crate) fn println_stdout(line: &str) -> Result<(), Fail> {
    write_stdout(format!("{line}\n").as_bytes())
}

/// Turns the result of a command into the process's exit status.
pub(crate) fn finish(result: Result<u8, Fail>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(fail) => {
            print_error(&fail.message);
            ExitCode::from(fail.code)
        }
    }
}

fn limit_u64(max: usize) -> u64 {
    u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1)
}

/// Reads at most `max` octets of a file; more is an error naming `what`.
pub(crate) fn read_file_capped(path: &Path, what: &str, max: usize) -> Result<Vec<u8>, Fail> {
    let shown = path.display();
    let file =
        File::open(path).map_err(|e| Fail::input(format!("cannot open {what} {shown}: {e}")))?;
    let mut buf = Vec::new();
    file.take(limit_u64(max))
        .read_to_end(&mut buf)
        .map_err(|e| Fail::input(format!("cannot read {what} {shown}: {e}")))?;
    if buf.len() > max {
        return Err(Fail::input(format!(
            "{what} {shown} is larger than {max} octets"
        )));
    }
    Ok(buf)
}

/// Reads a capped file as UTF-8 text.
pub(crate) fn read_text_capped(path: &Path, what: &str, max: usize) -> Result<String, Fail> {
    let bytes = read_file_capped(path, what, max)?;
    String::from_utf8(bytes)
        .map_err(|_| Fail::input(format!("{what} {} is not UTF-8 text", path.display())))
}

/// Reads all of stdin, at most `max` octets.
pub(crate) fn read_stdin_capped(max: usize) -> Result<Vec<u8>, Fail> {
    let mut buf = Vec::new();
    io::stdin()
        .lock()
        .take(limit_u64(max))
        .read_to_end(&mut buf)
        .map_err(|e| Fail::input(format!("cannot read stdin: {e}")))?;
    if buf.len() > max {
        return Err(Fail::input(format!("stdin is larger than {max} octets")));
    }
    Ok(buf)
}

/// Reads one line (without its `\n`) into `buf`, keeping at most `max`
/// octets; returns the line's full length, or `None` at the end.
pub(crate) fn read_line_capped<R: BufRead + ?Sized>(
    input: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Option<usize>> {
    buf.clear();
    let mut len = 0usize;
    let mut any = false;
    loop {
        let available = match input.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(any.then_some(len));
        }
        any = true;
        let (chunk, used, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], i + 1, true),
            None => (available, available.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        len = len.saturating_add(chunk.len());
        input.consume(used);
        if done {
            return Ok(Some(len));
        }
    }
}

/// The text of a line that [`read_line_capped`] read into `buf` with the
/// cap `max`, trimmed: `None` for a blank line, an error for a line over
/// the cap or not UTF-8.
pub(crate) fn line_text(buf: &[u8], len: usize, max: usize) -> Option<Result<&str, String>> {
    if len > buf.len() {
        return Some(Err(format!(
            "line is {len} octets, over the limit of {max}"
        )));
    }
    let Ok(text) = std::str::from_utf8(buf) else {
        return Some(Err("line is not UTF-8".to_owned()));
    };
    let text = text.trim();
    (!text.is_empty()).then_some(Ok(text))
}
