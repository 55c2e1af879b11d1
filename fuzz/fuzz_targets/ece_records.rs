#![no_main]

use webpush::ece::fuzz::{Records, records};

libfuzzer_sys::fuzz_target!(|input: Records| records(&input));
