#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| asoftmax_spec::fuzzing::loss_grad_vs_oracle(data));
