//! The token webhook, the authorization webhook and OIDC key sets against
//! real HTTPS servers on loopback.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use kaiser_auth::authn::oidc::KeySet;
use kaiser_auth::authz::{Attributes, Decision};
use kaiser_auth::{Authorizer, TokenAuthenticator, UserInfo};
use serde_json::{Value, json};

use super::authz::{AuthorizationWebhook, WebhookDecision};
use super::oidc::RemoteKeySet;
use super::tests::{Answer, pki, serve_fn};
use super::token::TokenWebhook;
use super::{ClientConfig, WebhookClient};

async fn client_for(answer: Answer) -> WebhookClient {
    let pki = pki(&["127.0.0.1"]);
    let addr = serve_fn(&pki, answer).await;
    let mut cfg = ClientConfig::url(format!("https://{addr}/review"));
    cfg.ca_bundle = Some(pki.ca_pem.clone().into_bytes());
    WebhookClient::new(cfg, None).expect("test set-up")
}

/// Knows token "good" (for audience "api" only when asked for "vault"),
/// reports an error for "broken", and refuses the rest.
fn token_answer(_: &str, _: &str, review: Value) -> (u16, Value) {
    assert_eq!(review["kind"], "TokenReview");
    let token = review["spec"]["token"].as_str().unwrap_or("");
    let status = match token {
        "good" => json!({"authenticated": true, "audiences": review["spec"]["audiences"],
            "user": {"username": "webhook-user", "uid": "w-1", "groups": ["hooked"],
                     "extra": {"scopes": ["all"]}}}),
        "implicit" => json!({"authenticated": true, "user": {"username": "implicit"}}),
        "broken" => json!({"authenticated": false, "error": "backend unavailable"}),
        _ => json!({"authenticated": false}),
    };
    (
        200,
        json!({"apiVersion": review["apiVersion"], "kind": "TokenReview", "status": status}),
    )
}

#[tokio::test]
async fn the_token_webhook_decides_with_audiences() {
    let client = client_for(Arc::new(token_answer)).await;
    let hook = TokenWebhook::new(client, "v1", vec!["api".into()]);
    let api = vec!["api".to_string()];
    let got = hook
        .authenticate_token("good", &api)
        .await
        .expect("no error")
        .expect("known");
    assert_eq!(got.user.name, "webhook-user");
    assert_eq!(got.user.uid, "w-1");
    assert_eq!(got.user.groups, ["hooked"]);
    assert_eq!(got.user.extra["scopes"], ["all"]);
    assert_eq!(got.audiences, api);
    // No audiences in the answer: the API audiences are implied.
    let got = hook.authenticate_token("implicit", &api).await.expect("ok");
    assert_eq!(got.expect("known").audiences, api);
    let vault = vec!["vault".to_string()];
    assert_eq!(hook.authenticate_token("implicit", &vault).await, Ok(None));
    assert_eq!(hook.authenticate_token("nope", &api).await, Ok(None));
    let err = hook
        .authenticate_token("broken", &api)
        .await
        .expect_err("error");
    assert_eq!(err.0, "backend unavailable");
}

static SAR_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Allows "friend", denies "foe" with a reason, has no opinion otherwise.
fn sar_answer(_: &str, _: &str, review: Value) -> (u16, Value) {
    SAR_CALLS.fetch_add(1, Ordering::SeqCst);
    let status = match review["spec"]["user"].as_str() {
        Some("friend") => json!({"allowed": true}),
        Some("foe") => json!({"allowed": false, "denied": true, "reason": "not you"}),
        _ => json!({"allowed": false, "reason": "no idea"}),
    };
    (
        200,
        json!({"apiVersion": review["apiVersion"], "kind": "SubjectAccessReview", "status": status}),
    )
}

#[tokio::test]
async fn the_authorization_webhook_allows_denies_and_caches() {
    let client = client_for(Arc::new(sar_answer)).await;
    let hook = AuthorizationWebhook::new(
        client,
        "v1",
        Duration::from_secs(300),
        Duration::from_secs(30),
    );
    fn attrs(u: &UserInfo) -> Attributes<'_> {
        Attributes {
            user: u,
            verb: "get",
            resource_request: true,
            path: "",
            namespace: "default",
            api_group: "",
            resource: "pods",
            subresource: "",
            name: "p",
        }
    }
    let user = |n: &str| UserInfo {
        name: n.into(),
        ..Default::default()
    };
    let (friend, foe, other) = (user("friend"), user("foe"), user("other"));
    assert_eq!(
        hook.decide(&attrs(&friend)).await,
        WebhookDecision::Allow(String::new())
    );
    assert_eq!(
        hook.decide(&attrs(&foe)).await,
        WebhookDecision::Deny("not you".into())
    );
    assert_eq!(
        hook.decide(&attrs(&other)).await,
        WebhookDecision::NoOpinion("no idea".into())
    );
    let before = SAR_CALLS.load(Ordering::SeqCst);
    assert_eq!(hook.authorize(&attrs(&friend)).await, Decision::Allow);
    let Decision::Deny(msg) = hook.authorize(&attrs(&foe)).await else {
        panic!("foe allowed");
    };
    assert_eq!(
        msg,
        "User \"foe\" cannot get resource \"pods\" in API group \"\" in the namespace \"default\": not you"
    );
    assert_eq!(
        SAR_CALLS.load(Ordering::SeqCst),
        before,
        "answered from the cache"
    );
}

#[tokio::test]
async fn an_unreachable_authorization_webhook_has_no_opinion() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("test set-up");
    let addr = listener.local_addr().expect("test set-up");
    drop(listener);
    let client = WebhookClient::new(ClientConfig::url(format!("https://{addr}/")), None)
        .expect("test set-up");
    let hook = AuthorizationWebhook::new(client, "v1", Duration::ZERO, Duration::ZERO);
    let u = UserInfo::default();
    let a = Attributes {
        user: &u,
        verb: "get",
        resource_request: false,
        path: "/x",
        namespace: "",
        api_group: "",
        resource: "",
        subresource: "",
        name: "",
    };
    assert_eq!(
        hook.decide(&a).await,
        WebhookDecision::NoOpinion(String::new())
    );
}

fn ec_jwk(kid: &str) -> Value {
    use base64::Engine;
    let b = |x: u8| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([x; 32]);
    json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b(1), "y": b(2)})
}

#[tokio::test]
async fn key_sets_are_discovered_and_refreshed() {
    let issuer: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let kids: Arc<Mutex<Vec<&'static str>>> = Arc::new(Mutex::new(vec!["k1"]));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (iss, ks, n) = (issuer.clone(), kids.clone(), fetches.clone());
    let pki = pki(&["127.0.0.1"]);
    let addr = serve_fn(
        &pki,
        Arc::new(move |path, _, _| match path {
            "/.well-known/openid-configuration" => {
                let iss = iss.get().cloned().unwrap_or_default();
                (
                    200,
                    json!({"issuer": iss, "jwks_uri": format!("{iss}/keys")}),
                )
            }
            "/keys" => {
                n.fetch_add(1, Ordering::SeqCst);
                let keys: Vec<Value> = ks
                    .lock()
                    .expect("test set-up")
                    .iter()
                    .map(|k| ec_jwk(k))
                    .collect();
                (200, json!({"keys": keys}))
            }
            _ => (404, json!({})),
        }),
    )
    .await;
    let url = format!("https://{addr}");
    issuer.set(url.clone()).expect("test set-up");
    let set = RemoteKeySet::new(&url, Some(pki.ca_pem.clone().into_bytes())).expect("test set-up");
    set.initialize().await;
    let keys = set.keys(false).await.expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid.as_deref(), Some("k1"));
    let _ = set.keys(false).await.expect("keys");
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "cached");
    kids.lock().expect("test set-up").push("k2");
    let keys = set.keys(true).await.expect("keys");
    assert_eq!(keys.len(), 2, "refreshed");

    // An issuer whose discovery names another issuer is refused.
    let wrong = RemoteKeySet::new(&format!("{url}/"), Some(pki.ca_pem.clone().into_bytes()))
        .expect("test set-up");
    let err = wrong.keys(false).await.expect_err("mismatch");
    assert!(err.0.contains("issuer did not match"), "{err}");
    // And is not asked again at once.
    let err = wrong.keys(false).await.expect_err("not initialized");
    assert_eq!(err.0, "oidc: authenticator not initialized");
}
