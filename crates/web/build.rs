// The browser client is embedded at compile time; rebuild when any file under client/ changes
// (cargo scans a directory given to rerun-if-changed recursively, so new files count too).
fn main() {
    println!("cargo:rerun-if-changed=../../client");
}
