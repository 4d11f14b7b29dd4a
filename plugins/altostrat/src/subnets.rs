//! Subnet discovery: the networks a site's RouterOS export configures, from `add` commands in
//! `/ip address`, `/ipv6 address`, `/ip route` and `/ipv6 route`, with the interface context
//! from `/interface vlan`, `/interface bridge` and `/interface bridge port`.
//!
//! Rules (also in the OpenAPI description of `listSiteSubnets`):
//! - an address contributes its network (`192.168.88.1/24` → `192.168.88.0/24`; no prefix
//!   means a host, `/32` or `/128`), with `address` the address as configured (canonical
//!   text) and `interface` its interface;
//! - IPv6 addresses taken `from-pool` (their prefix is delegated at run time) and link-local
//!   addresses (`fe80::/10`) are skipped;
//! - a route contributes its `dst-address` network, except default routes (`0.0.0.0/0`,
//!   `::/0`, or no `dst-address`) and `blackhole`/`unreachable`/`prohibit` routes; `gateway` is
//!   the gateway as written, `interface` is the one named by the gateway (`ether1`,
//!   `10.0.0.1%ether1`) or the one whose address network contains the gateway address;
//! - `vlan_id` is the VLAN id when the interface is a VLAN interface; `bridge` is the bridge
//!   the interface is, is a port of, or (for a VLAN) whose parent is or is a port of;
//! - `disabled` is true when the entry or its interface (a VLAN or bridge, up the VLAN chain)
//!   is disabled;
//! - entries that cannot be read (no or bad address) are skipped, never fatal;
//! - the list is sorted by family (IPv4 first), network (numerically), prefix length, source
//!   (`address` before `route`), then address or gateway and interface; entries equal in
//!   those are reported once (an enabled one in preference).

use std::cmp::Reverse;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::net::{Cidr, Family};
use crate::routeros::{Command, commands};

/// One discovered subnet, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subnet {
    /// The network, e.g. `192.168.88.0/24`.
    pub subnet: String,
    /// For `source=address`: the router's address in it, e.g. `192.168.88.1/24`.
    pub address: Option<String>,
    /// For `source=route`: the route's gateway as written.
    pub gateway: Option<String>,
    /// The interface the subnet is on or reached through, when known.
    pub interface: Option<String>,
    /// The bridge that interface belongs to, when any.
    pub bridge: Option<String>,
    /// The VLAN id, when the interface is a VLAN interface.
    pub vlan_id: Option<u16>,
    /// `ipv4` or `ipv6`.
    pub family: &'static str,
    /// `address` or `route`.
    pub source: &'static str,
    /// Whether the entry (or its interface) is disabled.
    pub disabled: bool,
    /// The entry's comment.
    pub comment: Option<String>,
}

/// Where an entry came from; addresses sort before routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Address,
    Route,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Address => "address",
            Source::Route => "route",
        }
    }
}

/// A VLAN interface.
struct Vlan {
    id: Option<u16>,
    parent: Option<String>,
    disabled: bool,
}

/// Interfaces as the export declares them.
#[derive(Default)]
struct Interfaces {
    /// Bridges by name, with whether each is disabled.
    bridges: BTreeMap<String, bool>,
    /// Bridge of each port interface.
    ports: BTreeMap<String, String>,
    /// VLAN interfaces by name.
    vlans: BTreeMap<String, Vlan>,
}

/// How deep VLAN-on-VLAN chains are followed (guards against loops in a hand-edited export).
const MAX_DEPTH: usize = 8;

impl Interfaces {
    fn collect(commands: &[Command]) -> Interfaces {
        let mut ifs = Interfaces::default();
        for cmd in commands {
            if cmd.adds_to("interface bridge") {
                if let Some(name) = cmd.value("name") {
                    ifs.bridges.insert(name.into(), cmd.flag("disabled"));
                }
            } else if cmd.adds_to("interface bridge port") {
                if let (Some(port), Some(bridge)) = (cmd.value("interface"), cmd.value("bridge")) {
                    ifs.ports.insert(port.into(), bridge.into());
                }
            } else if cmd.adds_to("interface vlan")
                && let Some(name) = cmd.value("name")
            {
                let vlan = Vlan {
                    id: cmd.value("vlan-id").and_then(|v| v.parse().ok()),
                    parent: cmd.value("interface").map(str::to_string),
                    disabled: cmd.flag("disabled"),
                };
                ifs.vlans.insert(name.into(), vlan);
            }
        }
        ifs
    }

    /// The VLAN id of a VLAN interface.
    fn vlan_id(&self, name: &str) -> Option<u16> {
        self.vlans.get(name).and_then(|v| v.id)
    }

    /// The bridge an interface is, is a port of, or sits on through VLANs.
    fn bridge(&self, name: &str) -> Option<String> {
        let mut name = name;
        for _ in 0..MAX_DEPTH {
            if self.bridges.contains_key(name) {
                return Some(name.into());
            }
            if let Some(bridge) = self.ports.get(name) {
                return Some(bridge.clone());
            }
            name = self.vlans.get(name)?.parent.as_deref()?;
        }
        None
    }

    /// Whether an interface, or a VLAN parent or bridge under it, is disabled.
    fn disabled(&self, name: &str) -> bool {
        let mut name = name;
        for _ in 0..MAX_DEPTH {
            if self.bridges.get(name) == Some(&true) {
                return true;
            }
            let Some(vlan) = self.vlans.get(name) else {
                return false;
            };
            if vlan.disabled {
                return true;
            }
            let Some(parent) = vlan.parent.as_deref() else {
                return false;
            };
            name = parent;
        }
        false
    }
}

/// An entry before rendering, ordered as the list is sorted: the fields that make two entries
/// the same subnet come first, so duplicates end up adjacent, enabled before disabled.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    network: Cidr,
    source: Source,
    /// Address (for addresses) or gateway (for routes): the text it is sorted by.
    via: String,
    interface: Option<String>,
    disabled: bool,
    comment: Option<String>,
}

impl Entry {
    /// The fields two entries must share to be the same subnet.
    fn identity(&self) -> (Cidr, Source, &str, Option<&str>) {
        (
            self.network,
            self.source,
            &self.via,
            self.interface.as_deref(),
        )
    }
}

/// Menu paths whose `add` commands discovery reads.
const PATHS: [&str; 7] = [
    "interface bridge",
    "interface bridge port",
    "interface vlan",
    "ip address",
    "ipv6 address",
    "ip route",
    "ipv6 route",
];

/// The subnets an export script configures. Only the commands discovery reads are kept in
/// memory while the script is parsed.
pub fn from_export(script: &str) -> Vec<Subnet> {
    let relevant: Vec<Command> = commands(script)
        .filter(|c| c.verb == "add" && PATHS.contains(&c.path.as_str()))
        .collect();
    discover(&relevant)
}

/// The subnets an export configures, sorted and de-duplicated (see the module docs).
pub fn discover(commands: &[Command]) -> Vec<Subnet> {
    let ifs = Interfaces::collect(commands);
    // Interface addresses first: routes resolve their gateway's interface against them.
    let addresses: Vec<(Cidr, Entry)> = commands
        .iter()
        .filter(|c| c.adds_to("ip address") || c.adds_to("ipv6 address"))
        .filter_map(|c| address_entry(c, &ifs))
        .collect();
    let routes: Vec<Entry> = commands
        .iter()
        .filter(|c| c.adds_to("ip route") || c.adds_to("ipv6 route"))
        .filter_map(|c| route_entry(c, &ifs, &addresses))
        .collect();
    let mut entries: Vec<Entry> = addresses
        .into_iter()
        .map(|(_, e)| e)
        .chain(routes)
        .collect();
    entries.sort();
    // `dedup_by` keeps the first of each run: the enabled one, with the least comment.
    entries.dedup_by(|later, first| later.identity() == first.identity());
    entries.into_iter().map(|e| render(e, &ifs)).collect()
}

/// An `/ip address` or `/ipv6 address` entry, with the address itself for gateway lookups.
fn address_entry(cmd: &Command, ifs: &Interfaces) -> Option<(Cidr, Entry)> {
    let address = Cidr::parse(cmd.value("address")?)?;
    let expected = if cmd.path == "ip address" {
        Family::V4
    } else {
        Family::V6
    };
    if address.family != expected
        || (expected == Family::V6
            && (cmd.value("from-pool").is_some() || address.is_link_local_v6()))
    {
        return None;
    }
    let interface = cmd.value("interface").map(str::to_string);
    let disabled = cmd.flag("disabled") || interface.as_deref().is_some_and(|i| ifs.disabled(i));
    let entry = Entry {
        network: address.network(),
        source: Source::Address,
        via: address.to_string(),
        interface,
        disabled,
        comment: cmd.value("comment").map(str::to_string),
    };
    Some((address, entry))
}

/// Route types that drop traffic instead of forwarding it.
const DROPPING: &[&str] = &["blackhole", "unreachable", "prohibit"];

/// An `/ip route` or `/ipv6 route` entry.
fn route_entry(cmd: &Command, ifs: &Interfaces, addresses: &[(Cidr, Entry)]) -> Option<Entry> {
    let network = Cidr::parse(cmd.value("dst-address")?)?.network();
    let expected = if cmd.path == "ip route" {
        Family::V4
    } else {
        Family::V6
    };
    let dropping =
        cmd.flag("blackhole") || cmd.value("type").is_some_and(|t| DROPPING.contains(&t));
    if network.family != expected || network.is_default() || dropping {
        return None;
    }
    let gateway = cmd.value("gateway").unwrap_or_default();
    let interface = gateway_interface(gateway, addresses);
    let disabled = cmd.flag("disabled") || interface.as_deref().is_some_and(|i| ifs.disabled(i));
    Some(Entry {
        network,
        source: Source::Route,
        via: gateway.into(),
        interface,
        disabled,
        comment: cmd.value("comment").map(str::to_string),
    })
}

/// The interface a gateway list (`a,b`) leads through: the first gateway that names one
/// (`ether1`, `10.0.0.1%ether1`) or whose address lies in a configured address network (the
/// most specific, enabled ones first).
fn gateway_interface(gateway: &str, addresses: &[(Cidr, Entry)]) -> Option<String> {
    gateway
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .find_map(|g| {
            if let Some((_, iface)) = g.split_once('%') {
                return (!iface.is_empty()).then(|| iface.to_string());
            }
            match Cidr::parse(g) {
                Some(addr) => addresses
                    .iter()
                    .filter(|(a, e)| a.contains(addr) && e.interface.is_some())
                    .min_by_key(|(a, e)| (e.disabled, Reverse(a.prefix)))
                    .and_then(|(_, e)| e.interface.clone()),
                None => Some(g.to_string()),
            }
        })
}

/// The API shape of an entry.
fn render(entry: Entry, ifs: &Interfaces) -> Subnet {
    let (address, gateway) = match entry.source {
        Source::Address => (Some(entry.via), None),
        Source::Route => (None, Some(entry.via).filter(|g| !g.is_empty())),
    };
    let interface = entry.interface;
    Subnet {
        subnet: entry.network.to_string(),
        address,
        gateway,
        bridge: interface.as_deref().and_then(|i| ifs.bridge(i)),
        vlan_id: interface.as_deref().and_then(|i| ifs.vlan_id(i)),
        interface,
        family: entry.network.family.as_str(),
        source: entry.source.as_str(),
        disabled: entry.disabled,
        comment: entry.comment,
    }
}

#[cfg(test)]
#[path = "subnets_tests.rs"]
mod tests;
