//! Start at login: the operations behind the Settings switch, and the default for desktops.

use slipway_protocol::ops::Autostart;

use crate::adapters::autostart;
use crate::engine::Engine;
use crate::Result;

/// The setting that remembers the operator's choice (so the default never overrides it).
const SETTING: &str = "autostart";

impl Engine {
    pub fn autostart(&self) -> Result<Autostart> {
        Ok(Autostart { enabled: autostart::enabled()?, location: autostart::location()? })
    }

    /// Writes or removes the OS's entry that runs this engine's `serve --tray` at login, for
    /// this data directory, and remembers the choice.
    pub async fn set_autostart(&self, enabled: bool) -> Result<Autostart> {
        let exe = std::env::current_exe()?;
        autostart::set(enabled, &exe, Some(&self.config().data_dir))?;
        self.store().set_setting(SETTING, if enabled { "on" } else { "off" }).await?;
        tracing::info!(enabled, entry = %autostart::location().unwrap_or_default(), "start at login");
        self.autostart()
    }

    /// A desktop engine (`serve --tray`) starts at login unless the operator said otherwise:
    /// the first such start turns it on. Failing to is logged, not fatal.
    pub async fn autostart_by_default(&self) {
        match self.store().setting(SETTING).await {
            Ok(None) => {
                if let Err(e) = self.set_autostart(true).await {
                    tracing::warn!("could not turn on start at login: {e}");
                }
            }
            Ok(Some(_)) => {}
            Err(e) => tracing::warn!("could not read the start-at-login setting: {e}"),
        }
    }
}
