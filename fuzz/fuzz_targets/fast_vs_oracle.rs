#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| asoftmax_spec::fuzzing::fast_vs_oracle(data));
