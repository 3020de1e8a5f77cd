//! Health endpoints: `/healthz`, `/livez` and `/readyz`, each a list of named
//! checks with per-check paths, `?verbose` and `?exclude=`, worded as
//! upstream's healthz package.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::http::{Response, text_response};

/// A named check; `Err` carries the (logged, not shown) reason.
#[derive(Clone)]
pub struct Check {
    pub name: String,
    pub run: Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>,
}

impl Check {
    pub fn new(
        name: &str,
        run: impl Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
    ) -> Self {
        Check {
            name: name.to_string(),
            run: Arc::new(run),
        }
    }

    /// The `ping` check, always healthy.
    pub fn ping() -> Self {
        Check::new("ping", || Box::pin(async { Ok(()) }))
    }
}

/// The three check lists.
#[derive(Clone, Default)]
pub struct HealthChecks {
    pub livez: Vec<Check>,
    pub readyz: Vec<Check>,
}

impl HealthChecks {
    /// The checks behind an endpoint name, `None` for other paths.
    fn for_endpoint(&self, endpoint: &str) -> Option<&[Check]> {
        match endpoint {
            "healthz" | "livez" => Some(&self.livez),
            "readyz" => Some(&self.readyz),
            _ => None,
        }
    }
}

/// Serves `path` if it is a health path; `None` otherwise.
pub async fn serve(
    checks: &HealthChecks,
    path: &str,
    query: &[(String, String)],
) -> Option<Response> {
    let trimmed = path.trim_start_matches('/');
    let (endpoint, sub) = match trimmed.split_once('/') {
        Some((e, s)) => (e, s),
        None => (trimmed, ""),
    };
    let list = checks.for_endpoint(endpoint)?;
    if !sub.is_empty() {
        let Some(c) = list.iter().find(|c| c.name == sub) else {
            return Some(text_response(404, "404 page not found\n"));
        };
        return Some(match (c.run)().await {
            Ok(()) => text_response(200, "ok"),
            Err(e) => text_response(500, format!("internal server error: {e}\n")),
        });
    }
    let verbose = query.iter().any(|(k, _)| k == "verbose");
    let excluded: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "exclude")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut out = String::new();
    let mut failed = false;
    for c in list {
        if excluded.contains(&c.name.as_str()) {
            out.push_str(&format!("[+]{} excluded: ok\n", c.name));
            continue;
        }
        match (c.run)().await {
            Ok(()) => out.push_str(&format!("[+]{} ok\n", c.name)),
            Err(e) => {
                tracing::info!(check = %c.name, endpoint, error = %e, "health check failed");
                failed = true;
                out.push_str(&format!("[-]{} failed: reason withheld\n", c.name));
            }
        }
    }
    for e in excluded {
        if !list.iter().any(|c| c.name == e) {
            out.push_str(&format!(
                "warn: some health checks cannot be excluded: no matches for \"{e}\"\n"
            ));
        }
    }
    Some(if failed {
        out.push_str(&format!("{endpoint} check failed\n"));
        text_response(500, out)
    } else if verbose {
        out.push_str(&format!("{endpoint} check passed\n"));
        text_response(200, out)
    } else {
        text_response(200, "ok")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn text(r: Response) -> (u16, String) {
        let code = r.status().as_u16();
        let b = r.into_body().collect().await.expect("body").to_bytes();
        (code, String::from_utf8_lossy(&b).into_owned())
    }

    #[tokio::test]
    async fn checks_paths_verbose_and_exclude() {
        let failing = Check::new("storage", || {
            Box::pin(async { Err("disk gone".to_string()) })
        });
        let checks = HealthChecks {
            livez: vec![Check::ping()],
            readyz: vec![Check::ping(), failing],
        };
        let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let r = serve(&checks, "/livez", &[]).await.expect("served");
        assert_eq!(text(r).await, (200, "ok".to_string()));
        let (code, body) = text(serve(&checks, "/readyz", &[]).await.expect("served")).await;
        assert_eq!(code, 500);
        assert!(
            body.contains("[-]storage failed: reason withheld") && !body.contains("disk gone"),
            "{body}"
        );
        let (code, body) = text(
            serve(
                &checks,
                "/readyz",
                &q(&[("exclude", "storage"), ("verbose", "")]),
            )
            .await
            .expect("served"),
        )
        .await;
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("[+]storage excluded: ok"));
        let (code, _) = text(serve(&checks, "/readyz/ping", &[]).await.expect("served")).await;
        assert_eq!(code, 200);
        let (code, _) = text(serve(&checks, "/readyz/nope", &[]).await.expect("served")).await;
        assert_eq!(code, 404);
        assert!(serve(&checks, "/version", &[]).await.is_none());
    }
}
