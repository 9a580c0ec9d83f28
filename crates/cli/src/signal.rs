//! Stopping a long-running command: Ctrl-C (SIGINT) and SIGTERM (`kill`,
//! `timeout`, `docker stop`, systemd) end it the same way, with the same
//! summary, instead of SIGTERM killing the process mid-output.

/// Listens for SIGINT and SIGTERM from the moment it is created: create it
/// right before the loop it stops, so a signal during setup still ends the
/// process at once (the default action).
pub struct Stop {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Stop {
    /// Starts listening.
    pub fn new() -> Stop {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Stop { int: signal(SignalKind::interrupt()).ok(), term: signal(SignalKind::terminate()).ok() }
        }
        #[cfg(not(unix))]
        {
            Stop {}
        }
    }

    /// Completes when either signal arrives (or arrived since [`Stop::new`]).
    pub async fn requested(&mut self) {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = recv(&mut self.int) => {}
                _ = recv(&mut self.term) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
