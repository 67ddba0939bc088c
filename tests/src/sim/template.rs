//! The world every schedule starts from, built once: a relay with a project, a team, the
//! household form, an enumerator with two phones and a supervisor with a tablet, each device
//! logged in. Building it costs password hashes and migrations; copying its files costs a
//! few milliseconds, so each schedule starts from a fresh copy.

use std::path::{Path, PathBuf};

use terrain_core::{Author, Form, Role, Store};
use terrain_services::accounts::{CreateUser, LoginKind};
use terrain_services::{Rate, Services, Settings};

/// The household form the devices fill in.
pub fn household_form() -> Result<Form, String> {
    Form::from_json(include_str!("../../../core/tests/fixtures/household.json")).map_err(|e| e.to_string())
}

/// The password of every simulated account.
const PASSWORD: &str = "a long simulated password";

/// One device of the template: who uses it, its store's file name and its token.
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    /// Who writes on it.
    pub author: Author,
    /// Its store's file name, inside a world's directory.
    pub file: String,
    /// Its login token.
    pub token: String,
}

/// A built world, on disk, to copy.
#[derive(Debug)]
pub struct Template {
    dir: tempfile::TempDir,
    /// The devices, in a fixed order the schedules index into.
    pub devices: Vec<DeviceSpec>,
}

/// The relay's settings in a simulation: the defaults, without the per-token and
/// per-address throttles (schedules sync far faster than phones do).
pub fn settings() -> Settings {
    let mut settings = Settings::default();
    let plenty = Rate { burst: 1_000_000, per_second: 1_000_000.0 };
    settings.logins.per_address = plenty;
    settings.requests = plenty;
    settings
}

impl Template {
    /// Builds the world in a temporary directory under `root`.
    pub fn build(root: &Path) -> Result<Template, String> {
        let dir = tempfile::tempdir_in(root).map_err(|e| e.to_string())?;
        let services = Services::open_sqlite(&dir.path().join("relay"), settings()).map_err(|e| e.to_string())?;
        let operator = services.operator().map_err(|e| e.to_string())?;
        let project = services.create_project(&operator, "pilot").map_err(|e| e.to_string())?;
        let team = services.create_team(&operator, project.id, "kindia").map_err(|e| e.to_string())?;
        let form = household_form()?;
        services.publish(&operator, project.id, &form).map_err(|e| e.to_string())?;
        let mut devices = Vec::new();
        for (name, role, phones) in [("awa", Role::Enumerator, 2), ("bob", Role::Supervisor, 1)] {
            let user = services
                .create_user(
                    &operator,
                    &CreateUser {
                        username: name.into(),
                        password: PASSWORD.into(),
                        role: role.as_str().into(),
                        display_name: None,
                    },
                )
                .map_err(|e| e.to_string())?;
            services.add_team_member(&operator, team.id, user.id).map_err(|e| e.to_string())?;
            for phone in 0..phones {
                let device = format!("{name}-{phone}");
                let issued =
                    services.login(name, PASSWORD, &device, None, LoginKind::Device).map_err(|e| e.to_string())?;
                let author = Author::new(name, &device, role);
                let file = format!("{device}.db");
                let store = Store::open(dir.path().join(&file), author.clone()).map_err(|e| e.to_string())?;
                store
                    .set_device_key(&terrain_core::identity::device_key_hex(&issued.device_key))
                    .map_err(|e| e.to_string())?;
                store.save_form(&form).map_err(|e| e.to_string())?;
                devices.push(DeviceSpec { author, file, token: issued.token });
            }
        }
        Ok(Template { dir, devices })
    }

    /// Copies the world into `into` (a fresh directory): the relay's directory and every
    /// device's store.
    pub fn copy_to(&self, into: &Path) -> Result<(), String> {
        copy_dir(self.dir.path(), into).map_err(|e| format!("copying the template world: {e}"))
    }

    /// The relay's data directory inside a world's directory.
    pub fn relay_dir(world: &Path) -> PathBuf {
        world.join("relay")
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
