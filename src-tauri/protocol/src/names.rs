//! Lifecycle enums travel and are stored by name: one declaration gives each its names.

/// For an enum stored and sent by its snake_case name: `ALL` (every value, in order), `as_str`,
/// and a `Display` that pads, so the CLI's columns line up.
macro_rules! named {
    ($t:ident { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            pub const ALL: &'static [$t] = &[$($t::$v),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($t::$v => $s),*
                }
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}
