#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| webpush::subscription::fuzz::keys(data));
