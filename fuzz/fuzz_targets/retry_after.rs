#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| webpush::outcome::fuzz::retry_after(data));
