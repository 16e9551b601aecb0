//! The SSRF guard: which addresses an http source may connect to.
//!
//! A source's host is resolved by [`GuardedResolver`], which drops every address outside the
//! source's [`AddressPolicy`] before a connection is tried — so a name that resolves (or is
//! re-bound) to a cloud metadata endpoint, a link-local or a private address is refused without
//! a packet sent there. A base URL that is an IP literal never reaches a resolver; it is checked
//! when the source is set up. Redirects are off (see the module above), so the checked address
//! is the only one a call reaches.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// What kind of address an IP is, as far as the guard cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// Reachable on the internet.
    Public,
    /// This machine (127.0.0.0/8, ::1).
    Loopback,
    /// A private network (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7).
    Private,
    /// Link-local (169.254/16, fe80::/10).
    LinkLocal,
    /// A cloud provider's instance-metadata endpoint (169.254.169.254, fd00:ec2::254, …).
    Metadata,
    /// Not a destination: unspecified, multicast, broadcast or reserved.
    NotUnicast,
}

impl AddressClass {
    /// How messages name the class.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Public => "a public",
            Self::Loopback => "a loopback",
            Self::Private => "a private-network",
            Self::LinkLocal => "a link-local",
            Self::Metadata => "a cloud metadata",
            Self::NotUnicast => "a non-unicast",
        }
    }
}

/// Metadata endpoints: AWS/GCP/Azure/OpenStack, AWS ECS task metadata, Alibaba Cloud, Oracle.
const METADATA_V4: [Ipv4Addr; 4] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(192, 0, 0, 192),
];
/// AWS's IPv6 metadata endpoint.
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// The class of `ip`. IPv4 addresses carried in IPv6 (mapped `::ffff:a.b.c.d`, NAT64
/// `64:ff9b::a.b.c.d`) are classed by the IPv4 address they carry.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return classify_v4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return classify_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
            }
            if v6 == METADATA_V6 {
                AddressClass::Metadata
            } else if v6.is_loopback() {
                AddressClass::Loopback
            } else if v6.is_unspecified() || v6.is_multicast() {
                AddressClass::NotUnicast
            } else if s[0] & 0xffc0 == 0xfe80 {
                AddressClass::LinkLocal
            } else if s[0] & 0xfe00 == 0xfc00 {
                AddressClass::Private
            } else {
                AddressClass::Public
            }
        }
    }
}

fn classify_v4(v4: Ipv4Addr) -> AddressClass {
    let [a, b, ..] = v4.octets();
    if METADATA_V4.contains(&v4) {
        AddressClass::Metadata
    } else if v4.is_loopback() {
        AddressClass::Loopback
    } else if v4.is_link_local() {
        AddressClass::LinkLocal
    } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
        AddressClass::Private
    } else if a == 0 || v4.is_multicast() || v4.is_broadcast() || a >= 240 {
        AddressClass::NotUnicast
    } else {
        AddressClass::Public
    }
}

/// Which addresses one source may reach: public ones, plus the networks it lists
/// (`allow_networks`), plus loopback when its base URL itself names this machine.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    allow: Vec<IpNet>,
    loopback: bool,
}

impl AddressPolicy {
    /// A policy allowing `allow` (CIDR networks or single addresses) beyond public addresses,
    /// and loopback when `loopback`.
    pub fn new(allow: Vec<IpNet>, loopback: bool) -> Self {
        Self { allow, loopback }
    }

    /// `Ok` when `ip` may be connected to; otherwise its class.
    pub fn check(&self, ip: IpAddr) -> Result<(), AddressClass> {
        let class = classify(ip);
        let allowed = match class {
            AddressClass::Public => true,
            AddressClass::Loopback if self.loopback => true,
            _ => self.allow.iter().any(|net| net.contains(&ip)),
        };
        if allowed {
            Ok(())
        } else {
            Err(class)
        }
    }
}

pub use crate::syntax::parse_network;

/// How names are turned into addresses; the system resolver unless a test supplies one.
pub type Lookup = Arc<dyn Fn(String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> + Send + Sync>;

/// The system resolver (getaddrinfo on tokio's blocking pool).
pub fn system_lookup() -> Lookup {
    Arc::new(|host: String| {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect()) })
    })
}

/// Why a name was refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to connect to {host}: it resolves to {address}, {} address; list the network in this source's allow_networks if it is meant to be reached",
    .class.describe()
)]
pub struct Refused {
    host: String,
    address: IpAddr,
    class: AddressClass,
}

/// A resolver that returns only the addresses its policy allows.
pub struct GuardedResolver {
    policy: Arc<AddressPolicy>,
    lookup: Lookup,
}

impl GuardedResolver {
    /// Resolves with `lookup`, keeping what `policy` allows.
    pub fn new(policy: Arc<AddressPolicy>, lookup: Lookup) -> Self {
        Self { policy, lookup }
    }

    /// The allowed addresses of `host`; an error naming the first refused one when none is
    /// allowed.
    pub async fn allowed(&self, host: &str) -> Result<Vec<IpAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let all = (self.lookup)(host.to_owned()).await?;
        let mut refused = None;
        let allowed: Vec<IpAddr> = all
            .into_iter()
            .filter(|ip| match self.policy.check(*ip) {
                Ok(()) => true,
                Err(class) => {
                    refused.get_or_insert(Refused { host: host.to_owned(), address: *ip, class });
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), refused) {
            (true, Some(refused)) => Err(Box::new(refused)),
            (true, None) => Err(format!("{host} has no addresses").into()),
            // Some allowed: a name that also resolves to a refused address is still suspect, so
            // the refused ones are dropped, never tried.
            (false, _) => Ok(allowed),
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = GuardedResolver { policy: self.policy.clone(), lookup: self.lookup.clone() };
        Box::pin(async move {
            let ips = this.allowed(name.as_str()).await?;
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn addresses_are_classified() {
        let cases = [
            ("93.184.216.34", AddressClass::Public),
            ("2606:4700::1111", AddressClass::Public),
            ("127.0.0.1", AddressClass::Loopback),
            ("127.8.9.10", AddressClass::Loopback),
            ("::1", AddressClass::Loopback),
            ("10.1.2.3", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("172.31.255.255", AddressClass::Private),
            ("172.32.0.1", AddressClass::Public),
            ("192.168.1.1", AddressClass::Private),
            ("100.64.0.1", AddressClass::Private),
            ("fd12:3456::1", AddressClass::Private),
            ("169.254.1.1", AddressClass::LinkLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("169.254.169.254", AddressClass::Metadata),
            ("169.254.170.2", AddressClass::Metadata),
            ("100.100.100.200", AddressClass::Metadata),
            ("fd00:ec2::254", AddressClass::Metadata),
            ("::ffff:169.254.169.254", AddressClass::Metadata),
            ("::ffff:10.0.0.1", AddressClass::Private),
            ("64:ff9b::a9fe:a9fe", AddressClass::Metadata),
            ("0.0.0.0", AddressClass::NotUnicast),
            ("::", AddressClass::NotUnicast),
            ("224.0.0.1", AddressClass::NotUnicast),
            ("255.255.255.255", AddressClass::NotUnicast),
            ("ff02::1", AddressClass::NotUnicast),
        ];
        for (text, class) in cases {
            assert_eq!(classify(ip(text)), class, "{text}");
        }
    }

    #[test]
    fn only_public_addresses_pass_unless_a_network_is_allowed() {
        let strict = AddressPolicy::default();
        assert!(strict.check(ip("93.184.216.34")).is_ok());
        for refused in ["169.254.169.254", "10.0.0.5", "127.0.0.1", "fe80::1", "fd00:ec2::254"] {
            assert!(strict.check(ip(refused)).is_err(), "{refused}");
        }
        let open = AddressPolicy::new(
            vec![parse_network("10.0.0.0/8").expect("cidr"), parse_network("fd00:ec2::254").expect("ip")],
            true,
        );
        assert!(open.check(ip("10.20.30.40")).is_ok());
        assert!(open.check(ip("127.0.0.1")).is_ok(), "loopback when the base URL names it");
        assert!(open.check(ip("fd00:ec2::254")).is_ok(), "listed explicitly");
        assert_eq!(open.check(ip("192.168.0.1")), Err(AddressClass::Private));
        assert_eq!(open.check(ip("169.254.169.254")), Err(AddressClass::Metadata));
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("example.com").is_err());
    }

    fn stub(answers: &'static [&'static str]) -> Lookup {
        Arc::new(move |_host: String| {
            Box::pin(async move { Ok(answers.iter().map(|a| a.parse().expect("an address")).collect()) })
        })
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_metadata_address_is_refused_before_any_connection() {
        let guard = GuardedResolver::new(Arc::default(), stub(&["169.254.169.254"]));
        let e = guard.allowed("rebind.example").await.expect_err("refused").to_string();
        assert!(e.contains("rebind.example") && e.contains("169.254.169.254") && e.contains("cloud metadata"), "{e}");
        assert!(e.contains("allow_networks"), "says how to allow it: {e}");

        // A name with a public and a private answer: only the public one is ever tried.
        let guard = GuardedResolver::new(Arc::default(), stub(&["10.0.0.7", "93.184.216.34"]));
        assert_eq!(guard.allowed("mixed.example").await.expect("one allowed"), vec![ip("93.184.216.34")]);
    }
}
