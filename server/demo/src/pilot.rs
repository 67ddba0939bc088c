//! The pilot's server and accounts: the relay running in-process on 127.0.0.1, one project,
//! three teams (two Guinean zones and Béguédo), their supervisors and enumerators, an
//! analyst, and both mission questionnaires published.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use terrain_core::Role;
use terrain_core::form::Form;
use terrain_server::{AppState, Settings};
use terrain_services::Services;
use terrain_services::accounts::CreateUser;
use terrain_xlsform as xlsform;

use super::{DemoError, FORMS};

/// The password of every account the demo creates (printed with `--keep`, to log in).
pub const PASSWORD: &str = "terrain demo password";

/// One team: where it works, its form, its supervisor and enumerators.
#[derive(Debug, Clone)]
pub struct Team {
    /// Display name.
    pub name: String,
    /// The form its enumerators fill in.
    pub form: Arc<Form>,
    /// The supervisor's user name.
    pub supervisor: String,
    /// The enumerators' user names.
    pub enumerators: Vec<String>,
}

/// The server running in a tokio runtime of its own, and what was set up on it.
pub struct Pilot {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// `http://addr`.
    pub url: String,
    /// The server's state (its services, and through them the storage the demo checks).
    pub state: AppState,
    /// The teams, Guinean zones first.
    pub teams: Vec<Team>,
    /// The analyst's user name.
    pub analyst: String,
    runtime: Option<tokio::runtime::Runtime>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::fmt::Debug for Pilot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pilot").field("url", &self.url).finish_non_exhaustive()
    }
}

/// Team names and the form each uses (index into `FORMS`).
const TEAMS: [(&str, &str, usize); 3] =
    [("kindia", "Kindia (Guinée)", 0), ("labe", "Labé (Guinée)", 0), ("beguedo", "Béguédo (Burkina Faso)", 1)];

impl Pilot {
    /// Starts the server on `data` and creates the pilot: `enumerators` split three
    /// quarters in Guinea (alternating between the two zones), the rest in Béguédo.
    pub fn start(data: &Path, enumerators: usize) -> Result<Pilot, DemoError> {
        let mut pilot = Pilot::serve(data, SocketAddr::from(([127, 0, 0, 1], 0)), Vec::new(), "analyste".into())?;
        pilot.setup(enumerators)?;
        Ok(pilot)
    }

    /// Starts the server again on `data`, at `addr`, for the pilot `teams` and `analyst`
    /// that are already in it: after a restart or a restore, with devices still pointed at
    /// the old address.
    pub fn resume(data: &Path, addr: SocketAddr, teams: Vec<Team>, analyst: String) -> Result<Pilot, DemoError> {
        Pilot::serve(data, addr, teams, analyst)
    }

    fn serve(data: &Path, addr: SocketAddr, teams: Vec<Team>, analyst: String) -> Result<Pilot, DemoError> {
        let state = AppState::open(data, Settings::default()).map_err(|e| DemoError::Server(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| DemoError::Server(e.to_string()))?;
        let listener = runtime.block_on(terrain_server::bind(addr)).map_err(|e| DemoError::Server(e.to_string()))?;
        let addr = listener.local_addr().map_err(|e| DemoError::Server(e.to_string()))?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_state = state.clone();
        runtime.spawn(async move {
            let _ = terrain_server::serve(listener, serve_state, async {
                let _ = rx.await;
            })
            .await;
        });
        Ok(Pilot {
            url: format!("http://{addr}"),
            addr,
            state,
            teams,
            analyst,
            runtime: Some(runtime),
            shutdown: Some(tx),
        })
    }

    /// The server's services.
    pub fn services(&self) -> &Services {
        &self.state.services
    }

    /// The storage behind the server, for the demo's checks of what it holds.
    pub fn backend(&self) -> std::sync::Arc<dyn terrain_services::backend::Backend> {
        self.state.services.backend().clone()
    }

    /// Sets the pilot up as the server's operator would, through the services.
    fn setup(&mut self, enumerators: usize) -> Result<(), DemoError> {
        let services = self.state.services.clone();
        let op = services.operator().map_err(|e| DemoError::Server(e.to_string()))?;
        let setup = |e: terrain_services::Error| DemoError::Server(e.to_string());
        if !services.projects(&op).map_err(setup)?.is_empty() {
            return Err(DemoError::Server(
                "the data directory already holds a project: give `--data` an empty or new directory".into(),
            ));
        }
        let project = services.create_project(&op, "Pilote migration et développement").map_err(setup)?.id;
        self.user("admin", Role::Admin)?;
        let analyst = self.user(&self.analyst.clone(), Role::Analyst)?;
        services.add_project_member(&op, project, analyst).map_err(setup)?;
        let mut forms = Vec::new();
        for (file, bytes) in FORMS {
            let form = xlsform::import_bytes(file, bytes).map_err(|e| DemoError::Server(format!("{file}: {e}")))?;
            services.publish(&op, project, &form).map_err(setup)?;
            forms.push(Arc::new(form));
        }
        let in_guinea = (enumerators * 3).div_ceil(4).min(enumerators.saturating_sub(1)).max(1);
        for (key, name, form) in TEAMS {
            let team = services.create_team(&op, project, name).map_err(setup)?.id;
            let supervisor = format!("sup-{key}");
            let id = self.user(&supervisor, Role::Supervisor)?;
            services.add_team_member(&op, team, id).map_err(setup)?;
            let members: Vec<usize> = match key {
                "kindia" => (0..in_guinea).step_by(2).collect(),
                "labe" => (1..in_guinea).step_by(2).collect(),
                _ => (in_guinea..enumerators.max(in_guinea + 1)).collect(),
            };
            let mut names = Vec::new();
            for n in members {
                let username = format!("enq-{key}-{:02}", n + 1);
                let id = self.user(&username, Role::Enumerator)?;
                services.add_team_member(&op, team, id).map_err(setup)?;
                names.push(username);
            }
            let form = forms.get(form).cloned().ok_or_else(|| DemoError::Server("missing form".into()))?;
            self.teams.push(Team { name: name.into(), form, supervisor, enumerators: names });
        }
        Ok(())
    }

    fn user(&self, username: &str, role: Role) -> Result<i64, DemoError> {
        let request = CreateUser {
            username: username.into(),
            password: PASSWORD.into(),
            role: role.to_string(),
            display_name: None,
        };
        self.state
            .services
            .create_user(&self.state.services.operator().map_err(|e| DemoError::Server(e.to_string()))?, &request)
            .map(|u| u.id)
            .map_err(|e| DemoError::Server(format!("creating {username}: {e}")))
    }

    /// Blocks until Ctrl-C or SIGTERM, serving the dashboard on the kept data.
    pub fn wait_for_ctrl_c(&self) {
        if let Some(rt) = &self.runtime {
            rt.block_on(terrain_server::shutdown_signal());
        }
    }

    /// Stops the server, letting requests in flight finish.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

impl Drop for Pilot {
    fn drop(&mut self) {
        self.stop_now();
    }
}
