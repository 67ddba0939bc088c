//! Sync: the device side of the relay protocol, the wire format shared with the server,
//! and bundles for moving surveys between devices without a network.

pub mod address;
pub mod bundle;
pub mod client;
pub mod enrolment;
pub mod forms;
pub mod http;
pub mod media;
pub mod pin;
pub mod session;
pub mod transport;
pub mod wire;

pub use address::ServerAddress;
pub use client::{CancelToken, Progress, SyncError, SyncOptions, SyncReport, sync};
pub use enrolment::EnrolmentPayload;
pub use forms::download_forms;
#[cfg(feature = "reqwest")]
pub use http::ReqwestClient;
pub use http::{HttpClient, HttpRequest, HttpResponse};
pub use media::{MediaOptions, MediaProgress, MediaReport, download_media, upload_media};
pub use pin::{CertificatePin, InvalidPin};
pub use session::{Login, Session};
pub use transport::{HttpTransport, PublishedForm, REFRESH_PREFIX, Transport, TransportError};
