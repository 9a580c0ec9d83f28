//! Small runtime helpers every async layer needs, kept once here.

use std::sync::{Mutex, MutexGuard};

use tokio::time::Instant;

/// Sleeps until `deadline`, or forever with none (a `select!` arm that
/// only fires when there is a deadline).
pub async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Locks `m`, tolerating poison: a panic elsewhere mid-update of a plain
/// map or counter leaves data that is still usable, and the panic itself is
/// reported where it happened.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_survives_poison() {
        let m = std::sync::Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let _g = m2.lock().unwrap();
            panic!("poison it");
        })
        .join();
        assert!(m.is_poisoned());
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn sleep_until_none_never_fires() {
        let t = Instant::now() + std::time::Duration::from_secs(1);
        tokio::select! {
            _ = sleep_until(None) => panic!("fired without a deadline"),
            _ = sleep_until(Some(t)) => {}
        }
        assert!(Instant::now() >= t);
    }
}
