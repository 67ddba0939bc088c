//! Shared fixtures for terrain-core's integration tests.
#![allow(dead_code, missing_docs, clippy::expect_used)]

use std::path::Path;

use terrain_core::{Author, Form, Role, Store};

pub fn household_form() -> Form {
    Form::from_json(include_str!("../fixtures/household.json")).expect("fixture form parses")
}

pub fn enumerator() -> Author {
    Author::new("awa", "phone-1", Role::Enumerator)
}

pub fn supervisor() -> Author {
    Author::new("moussa", "tablet-1", Role::Supervisor)
}

/// A store with the household form saved.
pub fn store_at(path: &Path, author: Author) -> Store {
    let store = Store::open(path, author).expect("store opens");
    store.save_form(&household_form()).expect("form saves");
    store
}
