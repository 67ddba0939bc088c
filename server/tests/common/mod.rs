//! A real server on loopback with seeded accounts, and devices with real stores that log in
//! and sync over HTTP.
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use terrain_core::sync::{self, CancelToken, HttpTransport, SyncOptions, SyncReport};
use terrain_core::{Author, Form, Role, Store};
use terrain_server::backend::{Backend, User};
use terrain_server::routes::{CreateUser, create_user_checked};
use terrain_server::{AppState, Settings};

pub const PASSWORD: &str = "a long test password";

pub fn household_form() -> Form {
    Form::from_json(include_str!("../../../core/tests/fixtures/household.json")).unwrap()
}

/// A running server and the ids of what was seeded.
pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    pub state: AppState,
    pub data: PathBuf,
    pub project: i64,
    pub teams: Vec<i64>,
    runtime: Option<tokio::runtime::Runtime>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    /// Starts a server in `data` on 127.0.0.1 with an admin, a project "pilot" with the
    /// household form, and teams.
    pub fn start(data: &Path) -> TestServer {
        Self::start_with(data, Settings::default())
    }

    pub fn start_with(data: &Path, settings: Settings) -> TestServer {
        let state = terrain_server::serve::state(data, settings).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_state = state.clone();
        runtime.spawn(async move {
            let _ = terrain_server::serve::serve(listener, serve_state, async {
                let _ = rx.await;
            })
            .await;
        });
        let backend = state.backend.clone();
        let project = match backend.projects().unwrap().into_iter().find(|p| p.name == "pilot") {
            Some(p) => p.id,
            None => backend.create_project("pilot").unwrap().id,
        };
        let teams: Vec<i64> = backend.teams().unwrap().into_iter().map(|t| t.id).collect();
        let teams = if teams.is_empty() {
            vec![backend.create_team(project, "kindia").unwrap().id, backend.create_team(project, "labe").unwrap().id]
        } else {
            teams
        };
        if backend.forms().unwrap().is_empty() {
            backend.publish_form(project, &household_form()).unwrap();
        }
        let server = TestServer {
            url: format!("http://{addr}"),
            addr,
            state,
            data: data.to_path_buf(),
            project,
            teams,
            runtime: Some(runtime),
            shutdown: Some(tx),
        };
        server.user("admin", Role::Admin, None);
        server
    }

    pub fn backend(&self) -> Arc<dyn Backend> {
        self.state.backend.clone()
    }

    /// The user `name`, created if needed, in team `team` (index into `teams`) if given.
    pub fn user(&self, name: &str, role: Role, team: Option<usize>) -> User {
        let backend = self.backend();
        let user = match backend.user_by_name(name).unwrap() {
            Some((u, _)) => u,
            None => create_user_checked(
                backend.as_ref(),
                &CreateUser {
                    username: name.into(),
                    password: PASSWORD.into(),
                    role: role.to_string(),
                    display_name: None,
                },
            )
            .unwrap(),
        };
        if let Some(t) = team {
            backend.add_team_member(self.teams[t], user.id).unwrap();
        }
        if role == Role::Analyst {
            backend.add_project_member(self.project, user.id).unwrap();
        }
        user
    }

    /// Logs in over HTTP and returns the token.
    pub fn token(&self, name: &str, device: &str) -> String {
        sync::login(&self.url, name, PASSWORD, device).unwrap().token
    }

    /// Stops the server (in-flight requests finish).
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

/// A phone or tablet: a real store that has logged in to the server.
pub struct Device {
    pub store: Store,
    pub token: String,
    pub url: String,
}

impl Device {
    pub fn login(url: &str, dir: &Path, user: &str, role: Role, device: &str) -> Device {
        let store = Store::open(dir.join(format!("{device}.db")), Author::new(user, device, role)).unwrap();
        let login = sync::login(url, user, PASSWORD, device).unwrap();
        store.set_device_key(&login.device_key).unwrap();
        Device { store, token: login.token, url: url.to_owned() }
    }

    pub fn sync(&self) -> SyncReport {
        self.try_sync().unwrap()
    }

    pub fn try_sync(&self) -> Result<SyncReport, sync::SyncError> {
        let transport = HttpTransport::new(&self.url, &self.token).unwrap();
        sync::sync(&self.store, &transport, &SyncOptions::default(), &|_| {}, &CancelToken::default())
    }
}

impl Device {
    /// Downloads every form version the user may use, as the app does after login.
    pub fn fetch_forms(&self) {
        let client = reqwest::blocking::Client::new();
        let list: Vec<serde_json::Value> =
            client.get(format!("{}/api/v1/forms", self.url)).bearer_auth(&self.token).send().unwrap().json().unwrap();
        for f in list {
            let json = client
                .get(format!(
                    "{}/api/v1/forms/{}/{}",
                    self.url,
                    f["form_id"].as_str().unwrap(),
                    f["version"].as_str().unwrap()
                ))
                .bearer_auth(&self.token)
                .send()
                .unwrap()
                .text()
                .unwrap();
            self.store.save_form(&Form::from_json(&json).unwrap()).unwrap();
        }
    }
}

impl Device {
    /// Syncs with explicit options (small batches make a sync long enough to interrupt).
    pub fn try_sync_with(&self, options: &SyncOptions) -> Result<SyncReport, sync::SyncError> {
        let transport = HttpTransport::new(&self.url, &self.token).unwrap();
        sync::sync(&self.store, &transport, options, &|_| {}, &CancelToken::default())
    }
}
