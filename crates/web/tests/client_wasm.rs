//! The browser client's WebAssembly is committed as a binary beside its text source (the
//! client has no build step); this test keeps the two the same.
//!
//! After changing a `.wat` file, regenerate its binary with
//! `MYWEBRTC_WRITE_WASM=1 cargo test -p web --test client_wasm`.

use std::path::PathBuf;

fn client_js() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../client/js")
}

#[test]
fn committed_wasm_is_compiled_from_its_source() {
    let sources: Vec<PathBuf> = std::fs::read_dir(client_js())
        .expect("client/js")
        .map(|e| e.expect("client/js entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wat"))
        .collect();
    assert!(!sources.is_empty(), "no .wat sources in client/js");
    for source in sources {
        let binary = source.with_extension("wasm");
        let compiled = wat::parse_file(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        if std::env::var_os("MYWEBRTC_WRITE_WASM").is_some() {
            std::fs::write(&binary, &compiled).unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        }
        let committed = std::fs::read(&binary).unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        assert!(
            committed == compiled,
            "{} is not the compilation of {}: run MYWEBRTC_WRITE_WASM=1 cargo test -p web --test client_wasm",
            binary.display(),
            source.display()
        );
    }
}
