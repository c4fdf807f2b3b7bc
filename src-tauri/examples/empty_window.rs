//! An empty Tauri v2 app: one window with a one-line page. The yardstick for the window's
//! memory in `scripts/bench memory` (issue #7 wants Slipway within 15 % of it).

fn main() {
    let mut context = tauri::generate_context!();
    // Not Slipway's window from tauri.conf.json: a blank one.
    context.config_mut().app.windows.clear();
    tauri::Builder::default()
        // A real page, so WebKit starts its web process as it does for any app (about:blank
        // would not).
        .register_uri_scheme_protocol("empty", |_ctx, _request| {
            tauri::http::Response::builder()
                .header("Content-Type", "text/html")
                .body(b"<!doctype html><p>empty</p>".to_vec())
                .expect("a response")
        })
        .setup(|app| {
            let url = tauri::WebviewUrl::External("empty://localhost/".parse().expect("a URL"));
            tauri::WebviewWindowBuilder::new(app, "empty", url).title("empty").inner_size(1100.0, 720.0).build()?;
            Ok(())
        })
        .run(context)
        .expect("the empty Tauri app");
}
