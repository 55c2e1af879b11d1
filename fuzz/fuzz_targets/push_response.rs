#![no_main]

use webpush::outcome::fuzz::{Response, response};

libfuzzer_sys::fuzz_target!(|input: Response| response(&input));
