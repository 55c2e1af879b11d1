#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| webpush::message::fuzz::decrypt_body(data));
