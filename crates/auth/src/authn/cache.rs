//! A cache of token authentication results (upstream's `token/cache`):
//! answers are kept for a success TTL or a failure TTL, keyed by an HMAC
//! of the audiences and the token under a key made at start, so the cache
//! never holds a token and its keys say nothing about one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ring::hmac;
use ring::rand::SystemRandom;

use super::{Authenticated, AuthnError, TokenAuthenticator};

/// Entries kept at most; past this, expired entries are dropped, then the
/// oldest ones.
const MAX_ENTRIES: usize = 4096;

type Answer = Result<Option<Authenticated>, AuthnError>;

/// A token authenticator with its answers cached.
pub struct CachedTokens {
    inner: Arc<dyn TokenAuthenticator>,
    key: hmac::Key,
    success_ttl: Duration,
    failure_ttl: Duration,
    entries: Mutex<HashMap<[u8; 32], (Instant, Answer)>>,
}

impl CachedTokens {
    pub fn new(
        inner: Arc<dyn TokenAuthenticator>,
        success_ttl: Duration,
        failure_ttl: Duration,
    ) -> Self {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .unwrap_or_else(|_| hmac::Key::new(hmac::HMAC_SHA256, &random_fallback()));
        CachedTokens {
            inner,
            key,
            success_ttl,
            failure_ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn cache_key(&self, token: &str, audiences: &[String]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        for a in audiences {
            ctx.update(&(a.len() as u64).to_be_bytes());
            ctx.update(a.as_bytes());
        }
        ctx.update(&(token.len() as u64).to_be_bytes());
        ctx.update(token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    fn lookup(&self, key: &[u8; 32]) -> Option<Answer> {
        let entries = self.entries.lock().ok()?;
        let (expires, answer) = entries.get(key)?;
        (Instant::now() < *expires).then(|| answer.clone())
    }

    fn store(&self, key: [u8; 32], answer: &Answer) {
        let ttl = match answer {
            Ok(Some(_)) => self.success_ttl,
            _ => self.failure_ttl,
        };
        if ttl.is_zero() {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let now = Instant::now();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (expires, _)| *expires > now);
        }
        while entries.len() >= MAX_ENTRIES {
            let Some(oldest) = entries.iter().min_by_key(|(_, (e, _))| *e).map(|(k, _)| *k) else {
                break;
            };
            entries.remove(&oldest);
        }
        entries.insert(key, (now + ttl, answer.clone()));
    }
}

/// A key from the clock and the allocator when the system RNG fails
/// (it does not on Linux; this only avoids a panic path).
fn random_fallback() -> [u8; 32] {
    let seed = format!("{:?}{:p}", Instant::now(), &MAX_ENTRIES);
    let d = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[async_trait]
impl TokenAuthenticator for CachedTokens {
    async fn authenticate_token(&self, token: &str, audiences: &[String]) -> Answer {
        let key = self.cache_key(token, audiences);
        if let Some(answer) = self.lookup(&key) {
            return answer;
        }
        let answer = self.inner.authenticate_token(token, audiences).await;
        self.store(key, &answer);
        answer
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::authn::UserInfo;

    /// Accepts "good", refuses anything else, and counts its calls.
    struct Counting(AtomicUsize);

    #[async_trait]
    impl TokenAuthenticator for Counting {
        async fn authenticate_token(&self, token: &str, _: &[String]) -> Answer {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok((token == "good").then(|| Authenticated {
                user: UserInfo {
                    name: "u".into(),
                    ..Default::default()
                },
                audiences: vec![],
            }))
        }
    }

    #[tokio::test]
    async fn answers_are_reused_within_their_ttl() {
        let inner = Arc::new(Counting(AtomicUsize::new(0)));
        let cache = CachedTokens::new(inner.clone(), Duration::from_secs(60), Duration::ZERO);
        let auds = vec!["api".to_string()];
        for _ in 0..3 {
            let got = cache.authenticate_token("good", &auds).await;
            assert_eq!(got.expect("ok").expect("user").user.name, "u");
        }
        assert_eq!(inner.0.load(Ordering::SeqCst), 1, "successes are cached");
        for _ in 0..2 {
            assert!(
                cache
                    .authenticate_token("bad", &auds)
                    .await
                    .expect("ok")
                    .is_none()
            );
        }
        assert_eq!(
            inner.0.load(Ordering::SeqCst),
            3,
            "a zero failure TTL caches no failure"
        );
        // Another audience is another question.
        let _ = cache.authenticate_token("good", &[]).await;
        assert_eq!(inner.0.load(Ordering::SeqCst), 4);
        assert_ne!(cache.cache_key("good", &auds), cache.cache_key("good", &[]));
    }

    #[tokio::test]
    async fn expired_answers_are_asked_again() {
        let inner = Arc::new(Counting(AtomicUsize::new(0)));
        let cache = CachedTokens::new(
            inner.clone(),
            Duration::from_nanos(1),
            Duration::from_nanos(1),
        );
        let _ = cache.authenticate_token("good", &[]).await;
        std::thread::sleep(Duration::from_millis(2));
        let _ = cache.authenticate_token("good", &[]).await;
        assert_eq!(inner.0.load(Ordering::SeqCst), 2);
    }
}
