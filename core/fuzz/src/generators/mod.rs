//! The generators: valid inputs first, then made adversarial where the code under test
//! trusts them. Each module names its attacks, so the corpus holds an input of each.

/// Declares a generator's `Attack` enum, `$what` being its doc: the variants in a fixed
/// order (the corpus is written in it) and each one's name in corpus file names.
macro_rules! attacks {
    ($what:literal; $($(#[$doc:meta])* $variant:ident => $name:literal;)*) => {
        #[doc = $what]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Attack {
            $($(#[$doc])* $variant,)*
        }

        impl Attack {
            /// Every attack, in a fixed order.
            pub const ALL: &'static [Attack] = &[$(Attack::$variant,)*];

            /// The attack's name in corpus file names.
            pub fn name(self) -> &'static str {
                match self { $(Attack::$variant => $name,)* }
            }
        }
    };
}

pub mod bombs;
pub mod bundle;
pub mod chunks;
pub mod docs;
pub mod expression;
pub mod form_files;
pub mod images;
pub mod runs;
pub mod wire;
pub mod xlsx;
pub mod zip;
