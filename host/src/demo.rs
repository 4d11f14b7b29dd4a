//! The demo's walkthrough, printed at start-up when `server.print_examples` is set: for each
//! provider a few curl lines to paste in order — create → poll → list → fetch/download →
//! delete — with the ids the configuration names (its resources) or a previous line printed
//! (kept in a shell variable with `grep -o`/`sed`, no `jq`). Only credentials whose secret is
//! in the file are used. A plugin the walkthrough does not know gets its route templates.

use std::net::SocketAddr;

use crate::config::{Config, CredentialConfig, SchemeConfig};
use crate::gateway::Gateway;
use crate::plugins::RouteSpec;

/// The last line of the walkthrough (tests read up to it).
pub const END: &str = "# (end of the walkthrough; Ctrl-C stops the gateway)";

/// One provider's part of the walkthrough.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The plugin's name.
    pub plugin: String,
    /// What the lines do, one line of text.
    pub title: String,
    /// Shell lines, to paste in order.
    pub lines: Vec<String>,
}

/// Print the walkthrough for the loaded plugins.
pub fn print_examples(config: &Config, gw: &Gateway, addr: SocketAddr, admin: Option<SocketAddr>) {
    let base = format!("http://{addr}");
    println!("\nbackup-gateway is up at {base} — paste these lines, in order, in a shell:\n");
    let plugins: Vec<(&str, &[RouteSpec])> = gw
        .plugins
        .iter()
        .map(|p| (&*p.name, p.manifest.routes.as_slice()))
        .collect();
    for s in walkthrough(config, &plugins, &base) {
        println!("# {}: {}", s.plugin, s.title);
        for line in &s.lines {
            println!("{line}");
        }
        println!();
    }
    if let Some(s) = admin.and_then(|a| admin_section(config, &format!("http://{a}"))) {
        println!("# {}: {}", s.plugin, s.title);
        for line in &s.lines {
            println!("{line}");
        }
        println!();
    }
    println!("{END}");
}

/// The demo's bootstrap admin token (`examples/demo.toml` holds its SHA-256 only).
pub const DEMO_ADMIN_TOKEN: &str = "bgat_demo-admin-token";

/// The admin API's part, when the bootstrap token is the demo's (no other is known here):
/// the demo org with its usage, the tokens, the audit log of org creations.
fn admin_section(config: &Config, base: &str) -> Option<Section> {
    let demo = crate::control::hash_token(DEMO_ADMIN_TOKEN);
    if config.admin.bootstrap_digest().ok().flatten() != Some(demo) {
        return None;
    }
    let org = config.orgs.first()?;
    let auth = format!("-H 'Authorization: Bearer {DEMO_ADMIN_TOKEN}'");
    Some(Section {
        plugin: "admin".into(),
        title: "the control plane: an org with its usage, the admin tokens, the audit log".into(),
        lines: vec![
            format!("curl -sS '{base}/admin/v1/orgs/{}' {auth}; echo", org.id),
            format!("curl -sS '{base}/admin/v1/tokens' {auth}; echo"),
            format!("curl -sS '{base}/admin/v1/audit?action=org.create' {auth}; echo"),
        ],
    })
}

/// The walkthrough's sections, one per plugin (name, routes) that has a demo credential.
pub fn walkthrough(config: &Config, plugins: &[(&str, &[RouteSpec])], base: &str) -> Vec<Section> {
    plugins
        .iter()
        .filter_map(|(name, routes)| section(&Demo { config, base }, name, routes))
        .collect()
}

/// What the lines are built from.
struct Demo<'a> {
    config: &'a Config,
    base: &'a str,
}

impl Demo<'_> {
    /// curl's options for the plugin's first credential of `scheme` (any scheme: `None`)
    /// whose secret the file holds.
    fn auth(&self, plugin: &str, scheme: Option<SchemeConfig>) -> Option<String> {
        self.config
            .credentials
            .iter()
            .filter(|c| c.plugin == plugin && c.secret.is_some())
            .find(|c| scheme.is_none_or(|s| s == c.scheme))
            .map(curl_auth)
    }

    /// The id of the plugin's first resource of `kind`.
    fn resource(&self, plugin: &str, kind: &str) -> Option<&str> {
        self.config
            .resources
            .iter()
            .find(|r| r.plugin == plugin && r.kind == kind)
            .map(|r| r.id.as_str())
    }

    /// A URL in single quotes (no variable in it) or double quotes (one in it).
    fn url(&self, path: &str) -> String {
        if path.contains('$') {
            format!("\"{}{path}\"", self.base)
        } else {
            format!("'{}{path}'", self.base)
        }
    }
}

fn curl_auth(c: &CredentialConfig) -> String {
    let secret = c.secret.as_deref().unwrap_or_default();
    match c.scheme {
        SchemeConfig::Basic => format!("--user '{}:{secret}'", c.key),
        SchemeConfig::Bearer => format!("-H 'Authorization: Bearer {secret}'"),
        SchemeConfig::Header => format!(
            "-H '{}: {secret}'",
            c.header.as_deref().unwrap_or("X-Api-Key")
        ),
    }
}

fn section(d: &Demo<'_>, name: &str, routes: &[RouteSpec]) -> Option<Section> {
    let auth = d.auth(name, None)?;
    let (title, lines) = match name {
        "appliance-collect" => collect(d, &auth),
        "altostrat" => altostrat(d, &auth)?,
        "hostup" => hostup(d, &auth)?,
        "bycloud" => bycloud(d, &auth)?,
        "jsa" => jsa(d, &auth)?,
        "hello" => hello(d, &auth),
        _ => templates(d, routes, &auth),
    };
    Some(Section {
        plugin: name.to_string(),
        title: title.to_string(),
        lines,
    })
}

/// `r=$(request)`, printed, then `var` = the first `"key":"…"` (or `"key":N`) in it, printed
/// too (or an error when the answer holds none).
fn keep(var: &str, request: &str, key: &str, quoted: bool) -> String {
    let (pattern, value) = if quoted {
        (
            format!("\"{key}\":\"[^\"]*\""),
            format!("\"{key}\":\"\\(.*\\)\""),
        )
    } else {
        (format!("\"{key}\":[0-9]*"), format!("\"{key}\":\\(.*\\)"))
    };
    format!(
        "r=$({request}); echo \"$r\"; {var}=$(printf %s \"$r\" | grep -o '{pattern}' | sed -n '1s/{value}/\\1/p'); echo \"{var}=${{{var}:?no {key} in the answer}}\""
    )
}

/// Ask again (every half second, 20 times at most) until the answer contains `done`, then
/// print the last answer.
fn poll(request: &str, done: &str) -> String {
    format!(
        "for i in $(seq 20); do r=$({request}); case $r in *'{done}'*) break;; esac; sleep 0.5; done; echo \"$r\""
    )
}

/// Print the status after a request whose answer may have no body.
const STATUS: &str = "-w 'HTTP %{http_code}\\n'";

fn collect(d: &Demo<'_>, auth: &str) -> (&'static str, Vec<String>) {
    let backups = d.url("/api/systems/backups");
    let one = d.url("/api/systems/backups/$collect_id");
    let upload = format!(
        "curl -sS -X POST {backups} {auth} -H 'Content-Type: application/octet-stream' -H 'X-Filename: daily-backup.tar.gz.gpg' --data-binary 'a demo backup'"
    );
    (
        "upload → list → download → delete",
        vec![
            keep("collect_id", &upload, "id", true),
            format!("curl -sS {backups} {auth}; echo"),
            format!("curl -sS {one} {auth}; echo"),
            format!("curl -sS -X DELETE {one} {auth}; echo"),
        ],
    )
}

fn altostrat(d: &Demo<'_>, auth: &str) -> Option<(&'static str, Vec<String>)> {
    let site = d.resource("altostrat", "site")?;
    let list = d.url(&format!("/backup/{site}"));
    let one = d.url(&format!("/backup/{site}/$alto_file"));
    let list_req = format!("curl -sS {list} {auth}");
    Some((
        "request → wait for it in the list → fetch (JSON, raw script) → subnets (the API has no delete)",
        vec![
            format!("curl -sS -X POST {list} {auth}; echo"),
            poll(&list_req, "\"filename\""),
            keep("alto_file", &list_req, "filename", true),
            format!("curl -sS {one} {auth}; echo"),
            format!("curl -sS {one} {auth} -H 'X-View: true'; echo"),
            format!(
                "curl -sS {} {auth}; echo",
                d.url(&format!("/backup/{site}/subnets"))
            ),
        ],
    ))
}

fn hostup(d: &Demo<'_>, auth: &str) -> Option<(&'static str, Vec<String>)> {
    let vps = d.resource("hostup", "vps")?;
    let backups = d.url(&format!("/api/v2/vps/{vps}/backups"));
    let create = format!(
        "curl -sS -X POST {backups} {auth} -H 'Content-Type: application/json' -d '{{\"note\":\"demo\"}}'"
    );
    let job = format!("curl -sS {} {auth}", d.url("/api/jobs/$hostup_job"));
    let list = format!("curl -sS {backups} {auth}");
    Some((
        "list VPSes → create a backup → poll its job → list → delete",
        vec![
            format!("curl -sS {} {auth}; echo", d.url("/api/v2/vps")),
            keep("hostup_job", &create, "jobId", true),
            poll(&job, "\"isCompleted\":true"),
            keep("hostup_backup", &list, "id", true),
            format!(
                "curl -sS -X DELETE {} {auth} {STATUS}",
                d.url(&format!("/api/v2/vps/{vps}/backups/$hostup_backup"))
            ),
            format!("{list}; echo"),
        ],
    ))
}

fn bycloud(d: &Demo<'_>, auth: &str) -> Option<(&'static str, Vec<String>)> {
    let volume = d.resource("bycloud", "volume")?;
    let backups = d.url("/v1/backups");
    let one = d.url("/v1/backups/$bycloud_id");
    let create = format!(
        "curl -sS -X POST {backups} {auth} -H 'Content-Type: application/json' -d '{{\"volume_id\":\"{volume}\",\"name\":\"demo\"}}'"
    );
    // The service account's key, when the demo has one: the same API with X-Api-Key.
    let key = d
        .auth("bycloud", Some(SchemeConfig::Header))
        .unwrap_or_else(|| auth.to_string());
    Some((
        "create → poll until available → list → get (with the X-Api-Key credential) → delete",
        vec![
            keep("bycloud_id", &create, "id", true),
            poll(
                &format!("curl -sS {one} {auth}"),
                "\"status\":\"available\"",
            ),
            format!(
                "curl -sS {} {auth}; echo",
                d.url(&format!("/v1/backups?volume_id={volume}"))
            ),
            format!("curl -sS {one} {key}; echo"),
            format!("curl -sS -X DELETE {one} {auth} {STATUS}"),
        ],
    ))
}

fn jsa(d: &Demo<'_>, auth: &str) -> Option<(&'static str, Vec<String>)> {
    d.resource("jsa", "jsa-host")?;
    let backups = d.url("/api/backup_and_restore/backups");
    let one = d.url("/api/backup_and_restore/backups/$jsa_id");
    // Backup names are unique: a second run of the walkthrough needs a new one.
    let create = format!(
        "curl -sS -X POST {backups} {auth} -H 'backup_type: CONFIG' -H 'Content-Type: application/json' -d \"{{\\\"name\\\":\\\"demo_$(date +%s)\\\",\\\"configuration_id\\\":1}}\""
    );
    Some((
        "create a CONFIG backup → poll until SUCCESS → list (Range, sort) → get (fields) → delete",
        vec![
            keep("jsa_id", &create, "id", false),
            poll(&format!("curl -sS {one} {auth}"), "\"status\":\"SUCCESS\""),
            format!(
                "curl -sS {} {auth} -H 'Range: items=0-9'; echo",
                d.url("/api/backup_and_restore/backups?sort=-id")
            ),
            format!(
                "curl -sS {} {auth}; echo",
                d.url("/api/backup_and_restore/backups/$jsa_id?fields=id,name,status,size_on_disk")
            ),
            format!("curl -sS -X DELETE {one} {auth}; echo"),
        ],
    ))
}

fn hello(d: &Demo<'_>, auth: &str) -> (&'static str, Vec<String>) {
    (
        "the template plugin: greet → echo",
        vec![
            format!(
                "curl -sS {} {auth}; echo",
                d.url("/hello/greetings/newcomer")
            ),
            format!(
                "curl -sS -X POST {} {auth} -H 'Content-Type: application/json' -d '{{\"hello\":\"world\"}}'; echo",
                d.url("/hello/echo")
            ),
        ],
    )
}

/// A plugin the walkthrough does not know: its routes, with `{params}` left to fill in.
fn templates(d: &Demo<'_>, routes: &[RouteSpec], auth: &str) -> (&'static str, Vec<String>) {
    let lines = routes
        .iter()
        .map(|r| {
            let auth = if r.authenticated { auth } else { "" };
            format!(
                "curl -sS -X {} {} {auth}; echo",
                r.method,
                d.url(&r.template)
            )
        })
        .collect();
    ("its routes (fill in the {params})", lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Config {
        Config::from_toml(include_str!("../../examples/demo.toml")).expect("demo.toml parses")
    }

    const PROVIDERS: [&str; 6] = [
        "altostrat",
        "appliance-collect",
        "bycloud",
        "hello",
        "hostup",
        "jsa",
    ];

    fn sections() -> Vec<Section> {
        let plugins: Vec<(&str, &[RouteSpec])> = PROVIDERS.iter().map(|p| (*p, &[][..])).collect();
        walkthrough(&demo(), &plugins, "http://127.0.0.1:8080")
    }

    #[test]
    fn every_provider_of_the_demo_gets_a_walkthrough() {
        let s = sections();
        let names: Vec<&str> = s.iter().map(|s| s.plugin.as_str()).collect();
        assert_eq!(names, PROVIDERS);
        for s in &s {
            assert!(s.plugin == "hello" || s.lines.len() >= 4, "{s:#?}");
            for line in &s.lines {
                assert!(!has_placeholder(line), "a route placeholder in {line}");
                assert!(line.contains("curl -sS"), "{line}");
            }
        }
    }

    /// A `{name}` that is neither the shell's `${…}` nor curl's `%{…}`.
    fn has_placeholder(line: &str) -> bool {
        line.match_indices('{').any(|(i, _)| {
            let before = line[..i].chars().last();
            let name: String = line[i + 1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            !matches!(before, Some('$' | '%'))
                && !name.is_empty()
                && line[i + 1 + name.len()..].starts_with('}')
        })
    }

    #[test]
    fn placeholders_are_recognised() {
        assert!(has_placeholder("curl 'http://h/backup/{siteId}'"));
        assert!(!has_placeholder(
            "echo \"${x:?no}\" -w '%{http_code}' -d '{\"a\":1}'"
        ));
    }

    /// Every `$var` a line uses was kept by an earlier line of the same section.
    #[test]
    fn every_variable_is_set_before_it_is_used() {
        for s in sections() {
            let mut set: Vec<String> = vec!["r".into(), "i".into()];
            for line in &s.lines {
                for used in line.split('$').skip(1) {
                    let name: String = used
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        assert!(
                            set.contains(&name),
                            "{}: ${name} is used before it is set in {line}",
                            s.plugin
                        );
                    }
                }
                for part in line.split("; ") {
                    if let Some((var, _)) = part.split_once("=$(")
                        && var.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    {
                        set.push(var.to_string());
                    }
                }
            }
        }
    }

    #[test]
    fn ids_come_from_the_configuration() {
        let s = sections();
        let all = |p: &str| {
            s.iter()
                .find(|s| s.plugin == p)
                .map(|s| s.lines.join("\n"))
                .unwrap_or_default()
        };
        assert!(all("hostup").contains("/api/v2/vps/vps_01hxa3b4c5d6e7f8g9h0j1k2m3/backups"));
        assert!(all("altostrat").contains("/backup/a1b2c3d4-e5f6-7890-1234-567890abcdef"));
        assert!(all("bycloud").contains("\"volume_id\":\"550e8400-e29b-41d4-a716-446655440001\""));
        assert!(
            all("bycloud").contains("-H 'X-Api-Key: AKBCDEMO000000000001:demo-secret-access-key'")
        );
        assert!(all("jsa").contains("-H 'SEC: jsa-demo-token'"));
        assert!(all("appliance-collect").contains("--user 'NETH-DEMO-0001:my_demo_secret'"));
    }

    #[test]
    fn an_unknown_plugin_gets_its_route_templates() {
        let mut config = demo();
        config.credentials[0].plugin = "mine".into();
        let route = RouteSpec {
            method: http::Method::GET,
            template: "/mine/{id}".into(),
            segments: Vec::new(),
            operation: "get".into(),
            authenticated: true,
            scope: None,
            body: crate::plugins::BodyMode::None,
            rate_classes: Vec::new(),
        };
        let s = walkthrough(
            &config,
            &[("mine", std::slice::from_ref(&route))],
            "http://h",
        );
        assert_eq!(
            s[0].lines,
            ["curl -sS -X GET 'http://h/mine/{id}' --user 'NETH-DEMO-0001:my_demo_secret'; echo"]
        );
    }
}
