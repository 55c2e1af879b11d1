#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| webpush::ece::fuzz::decrypt_body(data));
