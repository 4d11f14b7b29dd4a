//! The `X-Highlight: true` representation: a RouterOS script as an HTML fragment,
//! `<pre class="rsc"><code>…</code></pre>`, every character of the script kept in order and
//! HTML-escaped (`&`, `<`, `>`, `"`, `'`), with tokens wrapped in `<span class="…">`:
//!
//! | class | what |
//! |---|---|
//! | `rsc-comment` | a `#` comment line |
//! | `rsc-section` | a menu path header, e.g. `/ip address` |
//! | `rsc-verb` | the command verb, e.g. `add`, `set` |
//! | `rsc-key` | the key of a `key=value` argument |
//! | `rsc-string` | a double-quoted string, quotes included (may span continued lines) |
//! | `rsc-number` | an unquoted value or word that is a number, a dotted address or a prefix, e.g. `1500`, `192.168.88.1/24` |
//!
//! Line continuations and everything else are left as plain (escaped) text.

use crate::routeros::{continues, is_verb};

/// The rendered fragment ran past the size budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// Render a script as a highlighted HTML fragment of at most `budget` bytes.
pub fn highlight(script: &str, budget: usize) -> Result<String, TooLarge> {
    let mut out = Html {
        text: String::with_capacity(script.len().saturating_mul(2).min(budget)),
        budget,
    };
    out.raw(r#"<pre class="rsc"><code>"#)?;
    // A string only carries over into a continued line (RouterOS strings hold no raw
    // newline), and comment lines never continue, as in the parser.
    let mut in_string = false;
    let mut continued = false;
    for line in script.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let fresh = !continued;
        let comment = fresh && body.trim_start().starts_with('#');
        let ends_in_string = highlight_line(&mut out, body, in_string, fresh)?;
        continued = !comment && continues(body.trim_end_matches('\r'));
        in_string = ends_in_string && continued;
        out.raw(newline)?;
    }
    out.raw("</code></pre>")?;
    Ok(out.text)
}

/// Output with a size budget.
struct Html {
    text: String,
    budget: usize,
}

impl Html {
    fn raw(&mut self, s: &str) -> Result<(), TooLarge> {
        if self.text.len() + s.len() > self.budget {
            return Err(TooLarge);
        }
        self.text.push_str(s);
        Ok(())
    }

    fn escaped(&mut self, s: &str) -> Result<(), TooLarge> {
        let mut start = 0;
        for (i, c) in s.char_indices() {
            let entity = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => continue,
            };
            self.raw(&s[start..i])?;
            self.raw(entity)?;
            start = i + c.len_utf8();
        }
        self.raw(&s[start..])
    }

    fn span(&mut self, class: &str, s: &str) -> Result<(), TooLarge> {
        if s.is_empty() {
            return Ok(());
        }
        self.raw(r#"<span class=""#)?;
        self.raw(class)?;
        self.raw(r#"">"#)?;
        self.escaped(s)?;
        self.raw("</span>")
    }
}

/// Highlight one physical line (without its newline). `in_string`: the line starts inside a
/// quoted string; `fresh`: it starts a command (does not continue the previous line), so it
/// may be a comment or a header and its first word may be a verb. Returns whether it ends
/// inside a string.
fn highlight_line(
    out: &mut Html,
    line: &str,
    in_string: bool,
    fresh: bool,
) -> Result<bool, TooLarge> {
    let mut rest = line;
    if in_string {
        let end = string_end(rest);
        out.span("rsc-string", &rest[..end.unwrap_or(rest.len())])?;
        match end {
            Some(end) => rest = &rest[end..],
            None => return Ok(true),
        }
    }
    let mut expect_verb = false;
    if fresh {
        let indent = rest.len() - rest.trim_start().len();
        out.escaped(&rest[..indent])?;
        rest = &rest[indent..];
        if rest.starts_with('#') {
            out.span("rsc-comment", rest)?;
            return Ok(false);
        }
        if rest.starts_with('/') {
            let path_end = section_end(rest);
            out.span("rsc-section", rest[..path_end].trim_end())?;
            out.escaped(&rest[rest[..path_end].trim_end().len()..path_end])?;
            rest = &rest[path_end..];
        }
        expect_verb = true;
    }
    while !rest.is_empty() {
        let ws = rest.len() - rest.trim_start().len();
        if ws > 0 {
            out.escaped(&rest[..ws])?;
            rest = &rest[ws..];
            continue;
        }
        if let Some(after) = rest.strip_prefix('"') {
            let end = string_end(after);
            out.span("rsc-string", &rest[..end.map_or(rest.len(), |e| e + 1)])?;
            match end {
                Some(e) => rest = &after[e..],
                None => return Ok(true),
            }
            continue;
        }
        // A word: up to whitespace or a quote.
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"')
            .unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        match word.find('=') {
            Some(eq) if eq > 0 => {
                out.span("rsc-key", &word[..eq])?;
                out.raw("=")?;
                value(out, &word[eq + 1..])?;
            }
            _ if expect_verb && is_verb(word) => {
                out.span("rsc-verb", word)?;
            }
            _ => value(out, word)?,
        }
        expect_verb = false;
    }
    Ok(false)
}

/// An unquoted value or word: a number span if it is numeric, else plain.
fn value(out: &mut Html, word: &str) -> Result<(), TooLarge> {
    if is_number(word) {
        out.span("rsc-number", word)
    } else {
        out.escaped(word)
    }
}

/// Digits in dot-separated groups with an optional `/digits` prefix: `10`, `1.5`,
/// `192.168.88.1`, `10.0.0.0/8`.
fn is_number(word: &str) -> bool {
    let (main, prefix) = match word.split_once('/') {
        Some((m, p)) => (m, Some(p)),
        None => (word, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    main.split('.').all(digits) && prefix.is_none_or(digits)
}

/// The index just after the closing quote of a string whose opening quote precedes `s`,
/// skipping escapes; `None` when the string does not close on this line.
fn string_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Where a header's menu path ends: before the first verb or `key=value` word, or at the end.
fn section_end(line: &str) -> usize {
    let mut pos = 0;
    let mut first = true;
    for word in line.split_inclusive(char::is_whitespace) {
        let bare = word.trim_end();
        if !first
            && (bare.contains('=') || bare.contains('"') || bare.starts_with('[') || is_verb(bare))
        {
            return pos;
        }
        first = false;
        pos += word.len();
    }
    line.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: usize = 1 << 20;

    fn html(script: &str) -> String {
        highlight(script, BIG).expect("within budget")
    }

    /// The fragment with its tags removed and entities decoded is the script again.
    fn text_of(fragment: &str) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in fragment.chars() {
            match c {
                '<' => in_tag = true,
                '>' if in_tag => in_tag = false,
                _ if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    }

    #[test]
    fn wraps_each_token_kind() {
        let script = "# by RouterOS 7.16\n/ip address\nadd address=192.168.88.1/24 comment=\"LAN <main>\" interface=bridge mtu=1500\n";
        assert_eq!(
            html(script),
            concat!(
                r#"<pre class="rsc"><code>"#,
                r#"<span class="rsc-comment"># by RouterOS 7.16</span>"#,
                "\n",
                r#"<span class="rsc-section">/ip address</span>"#,
                "\n",
                r#"<span class="rsc-verb">add</span> "#,
                r#"<span class="rsc-key">address</span>=<span class="rsc-number">192.168.88.1/24</span> "#,
                r#"<span class="rsc-key">comment</span>=<span class="rsc-string">&quot;LAN &lt;main&gt;&quot;</span> "#,
                r#"<span class="rsc-key">interface</span>=bridge "#,
                r#"<span class="rsc-key">mtu</span>=<span class="rsc-number">1500</span>"#,
                "\n",
                "</code></pre>"
            )
        );
    }

    #[test]
    fn terse_headers_and_selectors() {
        let out = html(
            "/interface bridge port add bridge=bridge interface=ether2\n/interface ethernet set [ find default-name=ether1 ] name=wan\n",
        );
        assert!(out.contains(r#"<span class="rsc-section">/interface bridge port</span> <span class="rsc-verb">add</span>"#));
        assert!(out.contains(r#"<span class="rsc-section">/interface ethernet</span> <span class="rsc-verb">set</span> [ find <span class="rsc-key">default-name</span>=ether1 ]"#));
    }

    #[test]
    fn strings_with_escapes_and_continuations() {
        let script = "/ip firewall filter\nadd comment=\\\n    \"say \\\"hi\\\" & \\\n    bye\" chain=input\n# a comment \\\n/ip route\n";
        let out = html(script);
        // The string spans two physical lines: one span per line.
        assert!(
            out.contains(r#"<span class="rsc-string">&quot;say \&quot;hi\&quot; &amp; \</span>"#)
        );
        assert!(out.contains(r#"<span class="rsc-string">    bye&quot;</span> <span class="rsc-key">chain</span>=input"#));
        // A continuation line is not a header or comment even if it looks like one.
        let cont = html("/ip address\nadd comment=x \\\n    #not-a-comment address=1.2.3.4\n");
        assert!(!cont.contains("rsc-comment"));
        // But a comment ending in a backslash does not continue into the header.
        assert!(out.contains(r#"<span class="rsc-section">/ip route</span>"#));
        assert_eq!(text_of(&out), script);
    }

    #[test]
    fn every_character_survives_on_the_fixtures() {
        for script in [
            include_str!("../tests/fixtures/hq-rb5009.rsc"),
            include_str!("../tests/fixtures/branch-terse.rsc"),
            include_str!("../tests/fixtures/dc-ccr-ipv6.rsc"),
            "odd 'quotes' & <tags> \"unterminated\n",
            "",
        ] {
            assert_eq!(text_of(&html(script)), script);
            let crlf = script.replace('\n', "\r\n");
            assert_eq!(text_of(&html(&crlf)), crlf);
        }
    }

    #[test]
    fn nothing_unescaped_gets_through() {
        let out = html("add comment=<script>alert('x')</script> x=\"</code>\"\n# <b>\n");
        assert!(!out.contains("<script>"));
        assert!(!out.contains("<b>"));
        assert_eq!(out.matches("</code>").count(), 1);
    }

    #[test]
    fn numbers() {
        for yes in ["0", "1500", "1.5", "192.168.88.1", "10.0.0.0/8", "24"] {
            assert!(is_number(yes), "{yes}");
        }
        for no in [
            "",
            "ether1",
            "1.",
            ".1",
            "10.0.0.0/",
            "/24",
            "2001:db8::1",
            "-1",
            "1a",
        ] {
            assert!(!is_number(no), "{no}");
        }
    }

    #[test]
    fn the_budget_is_enforced() {
        let script = "add x=1\n".repeat(1000);
        assert_eq!(highlight(&script, 100), Err(TooLarge));
        let full = html(&script);
        assert_eq!(highlight(&script, full.len()), Ok(full.clone()));
        assert_eq!(highlight(&script, full.len() - 1), Err(TooLarge));
    }
}
