//! The small languages written inside config values: `{param}` templates (HTTP and command
//! tools), SQL `:name` placeholders and `allow_networks` CIDRs. Pure text: the config checks them, the sources render
//! or bind them; nothing here knows either.

pub(crate) mod like;
pub(crate) mod placeholders;
pub(crate) mod template;

use std::net::IpAddr;

use ipnet::IpNet;

/// Parses `allow_networks` entries: `10.0.0.0/8`, `fd12::/16`, or a single address.
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not a network (CIDR such as 10.0.0.0/8) or an address"))
}
