//! ui/src/lib/bindings.ts must be what the Rust types generate. `./scripts/gen-types` rewrites it.

use std::path::PathBuf;

#[test]
fn generated_typescript_is_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(slipway_protocol::bindings::PATH);
    let want = slipway_protocol::bindings::typescript();
    if std::env::var_os("SLIPWAY_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "{} is stale: run ./scripts/gen-types and commit the result", slipway_protocol::bindings::PATH);
}
