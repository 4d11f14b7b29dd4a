//! Ready-to-paste curl lines for the demo configuration, printed at start-up when
//! `server.print_examples` is set. Only credentials whose secret is in the file are shown.

use std::net::SocketAddr;

use crate::config::{Config, SchemeConfig};
use crate::http::Gateway;

/// Print one curl line per route of each plugin that has a demo credential.
pub fn print_examples(config: &Config, gw: &Gateway, addr: SocketAddr) {
    let base = format!("http://{addr}");
    println!("\nbackup-gateway is up at {base} — try:\n");
    for plugin in &gw.plugins {
        let Some(cred) = config
            .credentials
            .iter()
            .find(|c| c.plugin == *plugin.name && c.secret.is_some())
        else {
            continue;
        };
        let secret = cred.secret.as_deref().unwrap_or_default();
        let auth = match cred.scheme {
            SchemeConfig::Basic => format!("--user '{}:{}'", cred.key, secret),
            SchemeConfig::Bearer => format!("-H 'Authorization: Bearer {secret}'"),
            SchemeConfig::Header => format!(
                "-H '{}: {secret}'",
                cred.header.as_deref().unwrap_or("X-Api-Key")
            ),
        };
        println!("# {} ({})", plugin.name, plugin.path.display());
        for r in &plugin.manifest.routes {
            let path = example_path(config, &plugin.name, &r.template);
            let auth = if r.authenticated {
                format!(" {auth}")
            } else {
                String::new()
            };
            let extra = match r.body {
                crate::plugins::BodyMode::Ingest => " -H 'Content-Type: application/octet-stream' -H 'X-Filename: demo.tar.gz' --data-binary @README.md".to_string(),
                crate::plugins::BodyMode::Buffered => " -H 'Content-Type: application/json' -d '{}'".to_string(),
                crate::plugins::BodyMode::None => String::new(),
            };
            println!("curl -sS -X {} '{base}{path}'{auth}{extra}", r.method);
        }
        println!();
    }
}

/// The first `{param}` becomes the plugin's first declared resource (when there is one);
/// the others stay placeholders to fill in.
fn example_path(config: &Config, plugin: &str, template: &str) -> String {
    let resource = config.resources.iter().find(|r| r.plugin == plugin);
    let mut filled = false;
    template
        .split('/')
        .map(|seg| match resource {
            Some(r) if seg.starts_with('{') && !filled => {
                filled = true;
                r.id.clone()
            }
            _ => seg.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}
