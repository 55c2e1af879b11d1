#![no_main]

use webpush::message::fuzz::{RoundTrip, roundtrip};

libfuzzer_sys::fuzz_target!(|input: RoundTrip| roundtrip(&input));
