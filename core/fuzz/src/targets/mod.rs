//! The property checks, one module per surface: each runs an input through the code under
//! test and says how it answered, or what property the input breaks.

pub mod bundle;
pub mod expression;
pub mod form_files;
pub mod front_door;
pub mod media;
pub mod wire;
pub mod xlsform;
