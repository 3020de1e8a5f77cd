//! The bootstrap token authenticator (`--enable-bootstrap-token-auth`):
//! looks a token's Secret up in `kube-system` (from the Secrets' watch
//! cache, as upstream's lister) and lets `kaiser_auth::authn::bootstrap`
//! decide.

use std::sync::Arc;

use async_trait::async_trait;
use kaiser_apimachinery::time;
use kaiser_auth::TokenAuthenticator;
use kaiser_auth::authn::bootstrap;
use kaiser_auth::authn::{Authenticated, AuthnError};
use kaiser_registry::Store;

pub struct BootstrapTokens {
    pub secrets: Arc<Store>,
}

#[async_trait]
impl TokenAuthenticator for BootstrapTokens {
    async fn authenticate_token(
        &self,
        token: &str,
        _audiences: &[String],
    ) -> Result<Option<Authenticated>, AuthnError> {
        let Some((id, secret)) = bootstrap::parse_token(token) else {
            return Ok(None);
        };
        let name = bootstrap::secret_name(id);
        let obj = match self.secrets.get_cached(bootstrap::NAMESPACE, &name).await {
            Ok(o) => o,
            Err(e) if e.code == 404 => {
                tracing::debug!(secret = %name, "no secret matches the bootstrap bearer token");
                return Ok(None);
            }
            Err(e) => return Err(AuthnError(e.message)),
        };
        match bootstrap::check(&obj, id, secret, time::now_unix()) {
            Ok(user) => Ok(Some(Authenticated {
                user,
                audiences: Vec::new(),
            })),
            Err(why) => {
                tracing::debug!(reason = %why, "bootstrap token refused");
                Ok(None)
            }
        }
    }
}
