#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| webpush::aesgcm::fuzz::decrypt_request(data));
