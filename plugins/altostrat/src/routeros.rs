//! A reader for RouterOS `/export` scripts (`.rsc`): it joins continued lines, tracks the
//! current menu path (`/ip address`), and turns each command line into a [`Command`] with its
//! verb and `key=value` arguments, decoding quoted values and escapes.
//!
//! What it understands:
//! - `# …` comment lines (skipped) and `:…` script lines (skipped);
//! - menu headers, alone (`/interface bridge port`) or followed by a command on the same line
//!   (`/ip address add address=…`, the `export terse` style), with spaces or slashes between
//!   path words (`/ip/address`);
//! - continuations: a line ending in an odd number of backslashes is joined to the next, whose
//!   leading whitespace is dropped (RouterOS wraps long lines this way, even inside a value);
//! - values unquoted or in double quotes, with RouterOS escapes: `\"`, `\\`, `\n`, `\r`, `\t`,
//!   `\$`, `\?`, `\_` (space), `\a`, `\b`, `\f`, `\v` and `\XX` (two upper-case hex digits, one
//!   byte, so `\C3\A9` is `é`); an unknown escape stands for the character itself;
//! - bare words after the verb are flags (`add blackhole dst-address=…`; `!keepalive` unsets);
//! - `[ find … ]` selectors are skipped.
//!
//! Every verb is kept; callers pick the ones they understand (`add`) and ignore the rest.

/// One command of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The menu path, words separated by single spaces, lower-case (`ip address`).
    pub path: String,
    /// The verb (`add`, `set`, …), lower-case; empty when the line starts with an argument.
    pub verb: String,
    /// `key=value` arguments in order, values decoded.
    pub args: Vec<(String, String)>,
    /// Bare words after the verb, e.g. `blackhole` or `!keepalive`.
    pub flags: Vec<String>,
    /// 1-based line where the command starts.
    pub line: usize,
}

impl Command {
    /// The value of an argument.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of an argument, `None` when absent or empty.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// Whether a yes/no property is set: `key=yes`, `key=true` or the bare flag `key`.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("true"))
            || self.flags.iter().any(|f| f == key)
    }

    /// Whether this is an `add` in the menu `path`.
    pub fn adds_to(&self, path: &str) -> bool {
        self.verb == "add" && self.path == path
    }
}

/// Verbs that end a menu path on a header line.
const VERBS: &[&str] = &[
    "add",
    "comment",
    "disable",
    "edit",
    "enable",
    "export",
    "find",
    "move",
    "print",
    "remove",
    "reset",
    "reset-counters",
    "set",
    "unset",
];

/// Every command of an export script, in order.
#[cfg(test)]
pub fn parse(script: &str) -> Vec<Command> {
    commands(script).collect()
}

/// The commands of an export script, read lazily (only the current line is held).
pub fn commands(script: &str) -> Commands<'_> {
    Commands {
        lines: logical_lines(script),
        path: String::new(),
    }
}

/// Iterator over an export's commands; see [`commands`].
pub struct Commands<'a> {
    lines: LogicalLines<'a>,
    /// The menu path of the last header.
    path: String,
}

impl Iterator for Commands<'_> {
    type Item = Command;

    fn next(&mut self) -> Option<Command> {
        for (line, text) in self.lines.by_ref() {
            if let Some(cmd) = command(&mut self.path, line, &text) {
                return Some(cmd);
            }
        }
        None
    }
}

/// The command on a logical line, updating the menu `path` on a header; `None` for comments,
/// script lines and headers alone.
fn command(path: &mut String, line: usize, text: &str) -> Option<Command> {
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') || text.starts_with(':') {
        return None;
    }
    let mut tokens = tokenize(text).into_iter().peekable();
    if text.starts_with('/') {
        let mut words = Vec::new();
        let mut first = true;
        while let Some(Token::Word(w)) = tokens.peek() {
            if !first && is_verb(w) {
                break;
            }
            first = false;
            words.extend(
                w.split('/')
                    .filter(|p| !p.is_empty())
                    .map(str::to_ascii_lowercase),
            );
            tokens.next();
        }
        *path = words.join(" ");
    }
    let verb = match tokens.peek()? {
        Token::Word(w) => {
            let verb = w.to_ascii_lowercase();
            tokens.next();
            verb
        }
        Token::Pair(..) | Token::Group(_) => String::new(),
    };
    let mut args = Vec::new();
    let mut flags = Vec::new();
    for token in tokens {
        match token {
            Token::Pair(k, v) => args.push((k, v)),
            Token::Word(w) => flags.push(w),
            Token::Group(_) => {}
        }
    }
    Some(Command {
        path: path.clone(),
        verb,
        args,
        flags,
        line,
    })
}

/// Whether a word is a command verb (`add`, `set`, …), in any case.
pub fn is_verb(word: &str) -> bool {
    VERBS.iter().any(|v| v.eq_ignore_ascii_case(word))
}

/// The script's logical lines (continuations joined) with the 1-based line each starts on.
/// Comment lines are never continued.
pub fn logical_lines(script: &str) -> LogicalLines<'_> {
    LogicalLines {
        lines: script.lines().enumerate(),
    }
}

/// Iterator over logical lines; see [`logical_lines`].
pub struct LogicalLines<'a> {
    lines: std::iter::Enumerate<std::str::Lines<'a>>,
}

impl Iterator for LogicalLines<'_> {
    type Item = (usize, String);

    fn next(&mut self) -> Option<(usize, String)> {
        let (i, first) = self.lines.next()?;
        let mut text = first.to_string();
        if text.trim_start().starts_with('#') {
            return Some((i + 1, text));
        }
        while continues(&text) {
            text.pop();
            match self.lines.next() {
                Some((_, next)) => text.push_str(next.trim_start()),
                None => break,
            }
        }
        Some((i + 1, text))
    }
}

/// Whether a line ends in an odd number of backslashes (the last one escapes the newline).
pub fn continues(line: &str) -> bool {
    line.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// A token of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A bare word (verb, path word, flag).
    Word(String),
    /// `key=value`, value decoded.
    Pair(String, String),
    /// A `[ … ]` expression, raw.
    Group(String),
}

/// Split a logical line into tokens. Works on bytes so escaped bytes (`\C3\A9`) can rebuild
/// UTF-8; invalid UTF-8 becomes U+FFFD.
fn tokenize(line: &str) -> Vec<Token> {
    let bytes = line.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if bytes[i] == b'[' {
            let end = group_end(bytes, i);
            tokens.push(Token::Group(
                String::from_utf8_lossy(&bytes[i..end]).into_owned(),
            ));
            i = end;
            continue;
        }
        let mut key: Option<Vec<u8>> = None;
        let mut buf = Vec::new();
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            match bytes[i] {
                b'"' => i = read_quoted(bytes, i + 1, &mut buf),
                b'\\' => i = read_escape(bytes, i + 1, &mut buf),
                b'=' if key.is_none() => {
                    key = Some(std::mem::take(&mut buf));
                    i += 1;
                }
                b => {
                    buf.push(b);
                    i += 1;
                }
            }
        }
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        tokens.push(match key {
            Some(k) => Token::Pair(text(&k), text(&buf)),
            None => Token::Word(text(&buf)),
        });
    }
    tokens
}

/// The index after the `]` matching the `[` at `start` (or the end), skipping quoted text.
fn group_end(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'[' => depth += 1,
            b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            b'"' => {
                i = read_quoted(bytes, i + 1, &mut Vec::new());
                continue;
            }
            b'\\' => i += 1,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// Decode a quoted string starting after its opening quote into `out`; returns the index after
/// the closing quote (or the end, for an unterminated string).
fn read_quoted(bytes: &[u8], mut i: usize, out: &mut Vec<u8>) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return i + 1,
            b'\\' => i = read_escape(bytes, i + 1, out),
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    i
}

/// Decode the escape whose backslash ends just before `i` into `out`; returns the index after
/// it. A trailing lone backslash is kept.
fn read_escape(bytes: &[u8], i: usize, out: &mut Vec<u8>) -> usize {
    let Some(&c) = bytes.get(i) else {
        out.push(b'\\');
        return i;
    };
    if let (Some(hi), Some(lo)) = (hex(c), bytes.get(i + 1).copied().and_then(hex)) {
        out.push(hi << 4 | lo);
        return i + 2;
    }
    out.push(match c {
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'_' => b' ',
        b'a' => 0x07,
        b'b' => 0x08,
        b'f' => 0x0c,
        b'v' => 0x0b,
        other => other, // \" \\ \$ \? and unknown escapes
    });
    i + 1
}

/// The value of an upper-case hex digit (RouterOS writes escaped bytes in upper case).
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(cmd: &Command) -> Vec<(&str, &str)> {
        cmd.args
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn headers_set_the_path_for_following_commands() {
        let cmds = parse(
            "# 2024-11-25 20:50:00 by RouterOS 7.16.1\n\
             /interface bridge\n\
             add name=bridge\n\
             /ip address\n\
             add address=192.168.88.1/24 interface=bridge\n",
        );
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].path, "interface bridge");
        assert_eq!(cmds[0].verb, "add");
        assert_eq!(cmds[0].line, 3);
        assert_eq!(cmds[1].path, "ip address");
        assert_eq!(
            pairs(&cmds[1]),
            [("address", "192.168.88.1/24"), ("interface", "bridge")]
        );
        assert!(cmds[1].adds_to("ip address"));
    }

    #[test]
    fn terse_and_slash_paths() {
        let cmds = parse(
            "/ip address add address=10.0.0.1/24 interface=ether2\n\
             /ip/route add dst-address=10.1.0.0/16 gateway=10.0.0.254\n\
             /interface bridge port add bridge=bridge interface=ether3\n\
             /IP Address\nADD address=10.9.9.9\n",
        );
        let paths: Vec<(&str, &str)> = cmds
            .iter()
            .map(|c| (c.path.as_str(), c.verb.as_str()))
            .collect();
        assert_eq!(
            paths,
            [
                ("ip address", "add"),
                ("ip route", "add"),
                ("interface bridge port", "add"),
                ("ip address", "add"),
            ]
        );
    }

    #[test]
    fn continuations_join_lines_even_inside_values() {
        let script = "/ip firewall filter\n\
                      add action=accept chain=input comment=\\\n    \"defconf: accept established,related\" connection-state=\\\n    established,related\n\
                      add action=drop chain=input \\\n    in-interface-list=!LAN\n";
        let cmds = parse(script);
        assert_eq!(cmds.len(), 2);
        assert_eq!(
            cmds[0].get("comment"),
            Some("defconf: accept established,related")
        );
        assert_eq!(cmds[0].get("connection-state"), Some("established,related"));
        assert_eq!(cmds[0].line, 2);
        assert_eq!(cmds[1].get("in-interface-list"), Some("!LAN"));
        assert_eq!(cmds[1].line, 5);
    }

    #[test]
    fn a_continuation_inside_quotes_keeps_the_text() {
        let cmds =
            parse("/ip address\nadd comment=\"first half \\\n    second half\" address=1.2.3.4\n");
        assert_eq!(cmds[0].get("comment"), Some("first half second half"));
        assert_eq!(cmds[0].get("address"), Some("1.2.3.4"));
    }

    #[test]
    fn escaped_backslashes_do_not_continue() {
        assert!(continues("add comment=x \\"));
        assert!(!continues("add comment=x\\\\"));
        assert!(continues("add comment=x\\\\\\"));
        let cmds = parse("/ip address\nadd comment=C:\\\\\nadd comment=two\n");
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].get("comment"), Some("C:\\"));
    }

    #[test]
    fn quoted_values_and_escapes_decode() {
        let cmds = parse(
            "/ip address\nadd comment=\"Office \\\"HQ\\\" \\$5 \\_ok\\? tab\\tend\" \
             address=10.0.0.1/24 note=caf\\C3\\A9 bell=\\a x=\\Ab\n",
        );
        let c = &cmds[0];
        assert_eq!(c.get("comment"), Some("Office \"HQ\" $5  ok? tab\tend"));
        assert_eq!(c.get("note"), Some("café"));
        assert_eq!(c.get("bell"), Some("\u{7}"));
        assert_eq!(c.get("x"), Some("Ab"));
    }

    #[test]
    fn values_may_contain_equals_signs_and_be_empty() {
        let cmds = parse("/system script\nadd name=s source=\":put (1=1)\" comment=\"\" x=a=b\n");
        let c = &cmds[0];
        assert_eq!(c.get("source"), Some(":put (1=1)"));
        assert_eq!(c.get("comment"), Some(""));
        assert_eq!(c.value("comment"), None);
        assert_eq!(c.get("x"), Some("a=b"));
    }

    #[test]
    fn selectors_flags_and_other_verbs_are_kept_apart() {
        let cmds = parse(
            "/interface ethernet\n\
             set [ find default-name=ether1 ] comment=\"WAN [uplink]\" name=ether1-wan\n\
             /ip dhcp-client\n\
             remove [find]\n\
             add !keepalive disabled=yes interface=ether1\n",
        );
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0].verb, "set");
        assert_eq!(
            pairs(&cmds[0]),
            [("comment", "WAN [uplink]"), ("name", "ether1-wan")]
        );
        assert_eq!(cmds[1].verb, "remove");
        assert!(cmds[1].args.is_empty() && cmds[1].flags.is_empty());
        assert_eq!(cmds[2].verb, "add");
        assert_eq!(cmds[2].flags, ["!keepalive"]);
        assert!(cmds[2].flag("disabled"));
        assert!(!cmds[2].flag("keepalive"));
        assert!(!cmds[2].flag("interface"));
        let blackhole = parse("/ip route\nadd blackhole dst-address=10.0.0.0/8 x=no\n");
        assert!(blackhole[0].flag("blackhole"));
        assert!(!blackhole[0].flag("x"));
    }

    #[test]
    fn comments_script_lines_and_crlf_are_skipped() {
        let cmds = parse(
            "# header \\\r\n/ip address\r\n:local x 1\r\n   # indented comment\r\nadd address=1.1.1.1/32\r\n",
        );
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0].get("address"), Some("1.1.1.1/32"));
        assert_eq!(cmds[0].line, 5);
    }

    #[test]
    fn malformed_input_never_panics() {
        let inputs = [
            "",
            "/",
            "\\",
            "add",
            "=",
            "add =x \"unterminated",
            "add x=\\",
            "[[[",
            "add x=[ find \"a]\" ] y=1",
            "/ip address\nadd address=\\\n",
            "add comment=\"\\C\"",
            "\u{0}\u{ff}é=ü",
        ];
        for input in inputs {
            let _ = parse(input);
        }
        let cmds = parse("/ip address\nadd x=[ find \"a]\" ] y=1\n");
        assert_eq!(cmds[0].get("y"), Some("1"));
        // A command before any header has an empty path.
        assert_eq!(parse("add a=1")[0].path, "");
    }
}
