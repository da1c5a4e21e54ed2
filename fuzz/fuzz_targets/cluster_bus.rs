//! Messages of the cluster bus (and local frames between them) fed to a hub: nothing panics
//! and the hub's invariants hold after each.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    web::fuzzing::cluster_bus(data);
});
