//! IPv4 and IPv6 interface addresses and networks in CIDR notation: parsing what RouterOS
//! writes (`192.168.88.1/24`, `10.0.0.1` meaning `/32`, `10.0.0.1/255.255.255.0`,
//! `2001:db8::1/64`), the network an address belongs to, containment, and canonical text
//! (IPv6 compressed as RFC 5952 says, via `std::net`).

use std::cmp::Ordering;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// `ipv4` or `ipv6`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }

    /// Bits in an address.
    fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

/// An address with a prefix length, e.g. `192.168.88.1/24`. Also used for networks, whose
/// host bits are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The family.
    pub family: Family,
    /// The address as a number (IPv4 in the low 32 bits).
    pub addr: u128,
    /// Prefix length, at most 32 or 128.
    pub prefix: u8,
}

impl Cidr {
    /// Parse `addr[/prefix]`. Without a prefix the address is a host (`/32`, `/128`). An IPv4
    /// prefix may be a contiguous dotted netmask. `None` for anything else.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        if let Ok(v4) = addr.parse::<Ipv4Addr>() {
            let prefix = match prefix {
                None => 32,
                Some(p) if p.contains('.') => netmask_prefix(p.parse::<Ipv4Addr>().ok()?)?,
                Some(p) => parse_prefix(p, 32)?,
            };
            return Some(Cidr {
                family: Family::V4,
                addr: u128::from(u32::from(v4)),
                prefix,
            });
        }
        let v6 = addr.parse::<Ipv6Addr>().ok()?;
        let prefix = match prefix {
            None => 128,
            Some(p) => parse_prefix(p, 128)?,
        };
        Some(Cidr {
            family: Family::V6,
            addr: u128::from(v6),
            prefix,
        })
    }

    /// The network this address is in (host bits cleared).
    pub fn network(self) -> Cidr {
        Cidr {
            addr: self.addr & self.mask(),
            ..self
        }
    }

    /// Whether `addr` (an address of any prefix) lies in this network.
    pub fn contains(self, addr: Cidr) -> bool {
        self.family == addr.family && (addr.addr & self.mask()) == (self.addr & self.mask())
    }

    /// Whether this is the default route's network (`0.0.0.0/0`, `::/0`).
    pub fn is_default(self) -> bool {
        self.prefix == 0
    }

    /// Whether this is an IPv6 link-local address (`fe80::/10`).
    pub fn is_link_local_v6(self) -> bool {
        self.family == Family::V6 && (self.addr >> 118) == 0x3fa
    }

    /// The prefix mask, in the family's low bits.
    fn mask(self) -> u128 {
        let bits = self.family.bits();
        let all = match self.family {
            Family::V4 => u128::from(u32::MAX),
            Family::V6 => u128::MAX,
        };
        if self.prefix == 0 {
            0
        } else {
            all & (all << (bits - self.prefix))
        }
    }
}

impl Ord for Cidr {
    /// Family, then address, then prefix length: IPv4 before IPv6, numerically.
    fn cmp(&self, other: &Self) -> Ordering {
        (self.family, self.addr, self.prefix).cmp(&(other.family, other.addr, other.prefix))
    }
}

impl PartialOrd for Cidr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            // The address came from a u32, so it fits.
            Family::V4 => write!(f, "{}", Ipv4Addr::from(self.addr as u32))?,
            Family::V6 => write!(f, "{}", Ipv6Addr::from(self.addr))?,
        }
        write!(f, "/{}", self.prefix)
    }
}

/// A decimal prefix length of at most `max` (digits only, no sign).
fn parse_prefix(text: &str, max: u8) -> Option<u8> {
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u8>().ok().filter(|&p| p <= max)
}

/// The prefix length of a contiguous IPv4 netmask (`255.255.255.0` is 24).
fn netmask_prefix(mask: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(mask);
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> String {
        Cidr::parse(text).expect(text).network().to_string()
    }

    #[test]
    fn ipv4_networks() {
        assert_eq!(net("192.168.88.1/24"), "192.168.88.0/24");
        assert_eq!(net("10.1.2.3/8"), "10.0.0.0/8");
        assert_eq!(net("172.16.5.4/12"), "172.16.0.0/12");
        assert_eq!(net("10.255.255.1/32"), "10.255.255.1/32");
        assert_eq!(net("10.255.255.1"), "10.255.255.1/32");
        assert_eq!(net("100.64.3.7/31"), "100.64.3.6/31");
        assert_eq!(net("8.8.8.8/0"), "0.0.0.0/0");
        assert_eq!(net("10.0.0.1/255.255.255.0"), "10.0.0.0/24");
        assert_eq!(net("10.0.0.1/255.255.255.255"), "10.0.0.1/32");
        assert_eq!(net("10.0.0.1/0.0.0.0"), "0.0.0.0/0");
    }

    #[test]
    fn ipv6_networks() {
        assert_eq!(net("2001:db8:10::1/64"), "2001:db8:10::/64");
        assert_eq!(net("2001:DB8:0:0:0:0:0:1/48"), "2001:db8::/48");
        assert_eq!(net("2001:db8:abcd:12:ffff::1/56"), "2001:db8:abcd::/56");
        assert_eq!(net("2001:db8::1/128"), "2001:db8::1/128");
        assert_eq!(net("2001:db8::1"), "2001:db8::1/128");
        assert_eq!(net("::/0"), "::/0");
        assert_eq!(net("fd00:1:2:3:4:5:6:7/127"), "fd00:1:2:3:4:5:6:6/127");
        assert_eq!(net("::ffff:192.0.2.1/120"), "::ffff:192.0.2.0/120");
        assert_eq!(net("2001:db8:1::9/65"), "2001:db8:1::/65");
    }

    #[test]
    fn canonical_addresses() {
        let c = Cidr::parse("2001:0db8:0000:0000:0000:0000:0000:0001/64").expect("v6");
        assert_eq!(c.to_string(), "2001:db8::1/64");
        assert_eq!(c.family, Family::V6);
        assert_eq!(c.family.as_str(), "ipv6");
        assert_eq!(Family::V4.as_str(), "ipv4");
    }

    #[test]
    fn rejects_what_is_not_cidr() {
        for bad in [
            "",
            "bridge",
            "192.168.88.1/33",
            "192.168.88.1/",
            "192.168.88.1/-1",
            "192.168.88.1/+24",
            "192.168.88.256/24",
            "10.0.0.1/255.0.255.0",
            "2001:db8::1/129",
            "2001:db8::1/1000",
            "2001:db8::g/64",
            "2001:db8::1/255.255.255.0",
            "192.168.88.1/24/8",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn containment_and_defaults() {
        let lan = Cidr::parse("192.168.88.1/24").expect("lan");
        assert!(lan.contains(Cidr::parse("192.168.88.254").expect("gw")));
        assert!(!lan.contains(Cidr::parse("192.168.89.1").expect("other")));
        assert!(!lan.contains(Cidr::parse("::1").expect("v6")));
        assert!(Cidr::parse("0.0.0.0/0").expect("d4").is_default());
        assert!(Cidr::parse("::/0").expect("d6").is_default());
        assert!(!lan.is_default());
        assert!(Cidr::parse("fe80::1/64").expect("ll").is_link_local_v6());
        assert!(Cidr::parse("febf::1/64").expect("ll").is_link_local_v6());
        assert!(!Cidr::parse("fec0::1/64").expect("site").is_link_local_v6());
        assert!(
            !Cidr::parse("2001:db8::1/64")
                .expect("gua")
                .is_link_local_v6()
        );
    }

    #[test]
    fn ordering_is_family_address_prefix() {
        let mut list: Vec<Cidr> = [
            "::/0",
            "10.0.0.0/16",
            "10.0.0.0/8",
            "9.0.0.0/8",
            "2001:db8::/32",
        ]
        .iter()
        .filter_map(|t| Cidr::parse(t))
        .collect();
        list.sort();
        let text: Vec<String> = list.iter().map(Cidr::to_string).collect();
        assert_eq!(
            text,
            [
                "9.0.0.0/8",
                "10.0.0.0/8",
                "10.0.0.0/16",
                "::/0",
                "2001:db8::/32"
            ]
        );
    }
}
