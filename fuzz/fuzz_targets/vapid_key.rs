#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| webpush::vapid::key::fuzz::import(data));
