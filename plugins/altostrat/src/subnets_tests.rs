//! Tests of subnet discovery on realistic exports (`tests/fixtures/*.rsc`) and edge cases.

use serde_json::json;

use super::*;
use crate::routeros::parse;

const HQ: &str = include_str!("../tests/fixtures/hq-rb5009.rsc");
const BRANCH: &str = include_str!("../tests/fixtures/branch-terse.rsc");
const DC: &str = include_str!("../tests/fixtures/dc-ccr-ipv6.rsc");

fn subnets(script: &str) -> Vec<Subnet> {
    discover(&parse(script))
}

/// One line per subnet: `subnet source via if=… br=… vlan=… state comment`.
fn rows(script: &str) -> Vec<String> {
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    subnets(script)
        .into_iter()
        .map(|s| {
            format!(
                "{} {} {} if={} br={} vlan={} {} {}",
                s.subnet,
                s.source,
                dash(s.address.or(s.gateway)),
                dash(s.interface),
                dash(s.bridge),
                dash(s.vlan_id.map(|v| v.to_string())),
                if s.disabled { "disabled" } else { "enabled" },
                dash(s.comment),
            )
        })
        .collect()
}

#[test]
fn hq_export_with_vlans_on_a_bridge() {
    assert_eq!(
        rows(HQ),
        [
            "10.10.10.0/24 address 10.10.10.1/24 if=vlan10-staff br=bridge vlan=10 enabled Staff LAN",
            r#"10.20.20.0/24 address 10.20.20.1/24 if=vlan20-guest br=bridge vlan=20 enabled Guest "hotspot" LAN"#,
            "10.30.30.0/25 address 10.30.30.1/25 if=vlan30-voip br=bridge vlan=30 enabled -",
            "10.30.30.200/29 route 10.30.30.126 if=vlan30-voip br=bridge vlan=30 enabled -",
            "10.40.0.0/16 route 10.10.10.254 if=vlan10-staff br=bridge vlan=10 enabled Branch office via IPsec",
            "10.99.99.0/24 address 10.99.99.1/24 if=vlan99-mgmt br=bridge vlan=99 disabled -",
            r#"10.255.255.1/32 address 10.255.255.1/32 if=loopback br=loopback vlan=- enabled Router ID "lo0""#,
            "172.16.50.0/24 address 172.16.50.1/24 if=ether5 br=- vlan=- disabled -",
            "172.20.0.0/16 route ether5 if=ether5 br=- vlan=- disabled -",
            "192.168.88.0/24 address 192.168.88.1/24 if=bridge br=bridge vlan=- enabled defconf",
            "192.168.200.0/24 address 192.168.200.1/24 if=bridge-lab br=bridge-lab vlan=- disabled -",
            "198.51.100.0/30 address 198.51.100.2/30 if=ether1-wan br=- vlan=- enabled -",
            "2001:db8:100:10::/64 address 2001:db8:100:10::1/64 if=vlan10-staff br=bridge vlan=10 enabled -",
            "2001:db8:100:20::/64 address 2001:db8:100:20::1/64 if=vlan20-guest br=bridge vlan=20 enabled -",
            "2001:db8:100:ff::1/128 address 2001:db8:100:ff::1/128 if=loopback br=loopback vlan=- enabled -",
            r#"2001:db8:200::/48 route 2001:db8:100:10::fe if=vlan10-staff br=bridge vlan=10 enabled DC "east""#,
        ]
    );
}

#[test]
fn branch_export_in_terse_style() {
    assert_eq!(
        rows(BRANCH),
        [
            "10.10.0.0/16 route 172.31.255.1,wg-hq if=wg-hq br=- vlan=- enabled -",
            "10.20.0.0/16 route 10.0.0.1%wg-hq if=wg-hq br=- vlan=- enabled -",
            "10.100.0.0/24 address 10.100.0.1/24 if=vlan100-cctv br=- vlan=100 enabled -",
            "10.107.0.0/28 address 10.107.0.1/28 if=vlan100.7-qinq br=- vlan=7 enabled -",
            "10.255.0.2/32 address 10.255.0.2/32 if=lo br=lo vlan=- enabled -",
            "172.31.255.0/30 address 172.31.255.2/30 if=wg-hq br=- vlan=- enabled wg tunnel to HQ",
            "192.0.2.8/29 address 192.0.2.10/29 if=ether3 br=bridge-local vlan=- enabled -",
            "192.168.50.0/24 address 192.168.50.1/24 if=bridge-local br=bridge-local vlan=- enabled Branch LAN",
            "192.168.88.0/24 route 172.31.255.1 if=wg-hq br=- vlan=- enabled HQ LANs",
            "203.0.113.0/24 route 198.18.0.1 if=- br=- vlan=- enabled -",
        ]
    );
}

#[test]
fn datacenter_export_with_ipv6() {
    assert_eq!(
        rows(DC),
        [
            "10.0.0.0/8 route 100.64.0.0 if=sfp-sfpplus3 br=- vlan=- enabled -",
            "10.100.0.0/22 address 10.100.0.1/22 if=v100-servers br=br-core vlan=100 enabled -",
            r#"10.100.0.0/22 address 10.100.3.254/22 if=v100-servers br=br-core vlan=100 enabled VRRP "virtual" peer"#,
            "10.200.0.0/24 address 10.200.0.1/24 if=v200-storage br=br-core vlan=200 enabled -",
            r"100.64.0.0/31 address 100.64.0.1/31 if=sfp-sfpplus3 br=- vlan=- enabled Transit to \core-rtr\",
            "2001:db8:ab::/48 address 2001:db8:ab::1/48 if=br-core br=br-core vlan=- enabled -",
            "2001:db8:ab:100::/64 address 2001:db8:ab:100::1/64 if=v100-servers br=br-core vlan=100 enabled -",
            "2001:db8:ab:200::/64 address 2001:db8:ab:200::1/64 if=v200-storage br=br-core vlan=200 enabled -",
            "2001:db8:ab:ffff::1/128 address 2001:db8:ab:ffff::1/128 if=lo br=- vlan=- enabled loopback",
            "2001:db8:cd::/48 route 2001:db8:ab:100::fe if=v100-servers br=br-core vlan=100 enabled Peer DC",
            "2001:db8:ef::/64 route sfp-sfpplus3 if=sfp-sfpplus3 br=- vlan=- disabled -",
            "fd00:4000::/64 address fd00:4000::1/64 if=v4000-oob br=br-oob vlan=4000 disabled -",
        ]
    );
}

#[test]
fn the_fixtures_parse_as_expected() {
    // Escaped UTF-8 bytes in a quoted comment, joined across a continuation.
    let dc = parse(DC);
    let oob = dc
        .iter()
        .find(|c| c.adds_to("interface vlan") && c.get("name") == Some("v4000-oob"))
        .expect("v4000-oob");
    assert_eq!(oob.get("comment"), Some("Out-of-band équipe"));
    assert_eq!(oob.get("vlan-id"), Some("4000"));
    // `set` lines are parsed and ignored by discovery.
    let hq = parse(HQ);
    assert!(
        hq.iter()
            .any(|c| c.verb == "set" && c.path == "system identity")
    );
    let firewall: Vec<_> = hq
        .iter()
        .filter(|c| c.path == "ip firewall filter")
        .collect();
    assert_eq!(
        firewall[0].get("comment"),
        Some("defconf: accept established,related,untracked")
    );
    assert_eq!(firewall[1].get("in-interface-list"), Some("!LAN"));
}

#[test]
fn json_shape_of_one_subnet() {
    let all = subnets(HQ);
    let staff = serde_json::to_value(&all[0]).expect("serialises");
    assert_eq!(
        staff,
        json!({
            "subnet": "10.10.10.0/24",
            "address": "10.10.10.1/24",
            "gateway": null,
            "interface": "vlan10-staff",
            "bridge": "bridge",
            "vlan_id": 10,
            "family": "ipv4",
            "source": "address",
            "disabled": false,
            "comment": "Staff LAN",
        })
    );
    let route = serde_json::to_value(&all[3]).expect("serialises");
    assert_eq!(route["address"], json!(null));
    assert_eq!(route["gateway"], json!("10.30.30.126"));
    assert_eq!(route["source"], json!("route"));
    let v6 = serde_json::to_value(all.last().expect("some")).expect("serialises");
    assert_eq!(v6["family"], json!("ipv6"));
}

#[test]
fn from_export_reads_only_what_it_needs_with_the_same_result() {
    for script in [HQ, BRANCH, DC] {
        assert_eq!(from_export(script), subnets(script));
    }
}

#[test]
fn line_endings_do_not_matter() {
    for script in [HQ, BRANCH, DC] {
        assert_eq!(subnets(&script.replace('\n', "\r\n")), subnets(script));
    }
}

#[test]
fn order_of_the_export_does_not_matter() {
    // Routes before addresses, VLANs after their use: same result.
    let script = "/ip route\nadd dst-address=10.9.0.0/16 gateway=10.1.1.254\n\
                  /ip address\nadd address=10.1.1.1/24 interface=v5\n\
                  /interface vlan\nadd interface=br name=v5 vlan-id=5\n\
                  /interface bridge\nadd name=br\n";
    assert_eq!(
        rows(script),
        [
            "10.1.1.0/24 address 10.1.1.1/24 if=v5 br=br vlan=5 enabled -",
            "10.9.0.0/16 route 10.1.1.254 if=v5 br=br vlan=5 enabled -",
        ]
    );
}

#[test]
fn duplicates_keep_the_enabled_entry() {
    let script = "/ip address\n\
                  add address=10.0.0.1/24 disabled=yes interface=e1 comment=old\n\
                  add address=10.0.0.1/24 interface=e1 comment=new\n\
                  add address=10.0.0.1/24 interface=e2\n";
    assert_eq!(
        rows(script),
        [
            "10.0.0.0/24 address 10.0.0.1/24 if=e1 br=- vlan=- enabled new",
            "10.0.0.0/24 address 10.0.0.1/24 if=e2 br=- vlan=- enabled -",
        ]
    );
}

#[test]
fn unreadable_and_irrelevant_entries_are_skipped() {
    let script = "/ip address\n\
                  add interface=e1\n\
                  add address=bogus interface=e1\n\
                  add address=10.0.0.1/40 interface=e1\n\
                  add address=2001:db8::1/64 interface=e1\n\
                  set [ find interface=e1 ] address=10.0.0.9/24\n\
                  remove [ find ]\n\
                  /ipv6 address\n\
                  add address=10.0.0.1/24 interface=e1\n\
                  /ip route\n\
                  add gateway=10.0.0.1\n\
                  add dst-address=2001:db8::/32 gateway=e1\n\
                  add dst-address=10.0.0.0/8 type=blackhole\n\
                  add dst-address=10.0.0.0/9 type=prohibit\n\
                  /ipv6 route\n\
                  add dst-address=10.0.0.0/8 gateway=e1\n\
                  add dst-address=::/0 gateway=e1\n\
                  /ip firewall address-list\n\
                  add address=10.66.0.0/16 list=blocked\n";
    assert!(subnets(script).is_empty(), "{:?}", rows(script));
    assert!(subnets("").is_empty());
    assert!(subnets("# only comments\n").is_empty());
}

#[test]
fn vlan_loops_terminate() {
    let script = "/interface vlan\n\
                  add interface=b name=a vlan-id=1\n\
                  add interface=a name=b vlan-id=2\n\
                  /ip address\nadd address=10.0.0.1/24 interface=a\n";
    assert_eq!(
        rows(script),
        ["10.0.0.0/24 address 10.0.0.1/24 if=a br=- vlan=1 enabled -"]
    );
}

#[test]
fn disabled_parents_disable_their_subnets() {
    let script = "/interface bridge\nadd disabled=yes name=br\n\
                  /interface vlan\nadd interface=br name=v1 vlan-id=1\n\
                  add interface=v1 name=v2 vlan-id=2\n\
                  /ip address\nadd address=10.0.2.1/24 interface=v2\n\
                  /ip route\nadd dst-address=10.9.0.0/16 gateway=10.0.2.254\n";
    assert_eq!(
        rows(script),
        [
            "10.0.2.0/24 address 10.0.2.1/24 if=v2 br=br vlan=2 disabled -",
            "10.9.0.0/16 route 10.0.2.254 if=v2 br=br vlan=2 disabled -",
        ]
    );
}

#[test]
fn a_gateway_prefers_the_most_specific_enabled_network() {
    let script = "/ip address\n\
                  add address=10.0.0.1/8 interface=wide\n\
                  add address=10.1.0.1/16 interface=narrow-off disabled=yes\n\
                  add address=10.1.2.1/24 interface=narrow\n\
                  /ip route\n\
                  add dst-address=172.16.0.0/12 gateway=10.1.2.9\n\
                  add dst-address=172.32.0.0/12 gateway=10.1.9.9\n\
                  add dst-address=192.168.0.0/16 gateway=10.9.9.9\n";
    let routes: Vec<String> = rows(script)
        .into_iter()
        .filter(|r| r.contains(" route "))
        .collect();
    assert_eq!(
        routes,
        [
            "172.16.0.0/12 route 10.1.2.9 if=narrow br=- vlan=- enabled -",
            // Only the wide network is enabled and contains it: enabled wins over specific.
            "172.32.0.0/12 route 10.1.9.9 if=wide br=- vlan=- enabled -",
            "192.168.0.0/16 route 10.9.9.9 if=wide br=- vlan=- enabled -",
        ]
    );
}
