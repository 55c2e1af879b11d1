#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| webpush::queue::job::fuzz::job(data));
