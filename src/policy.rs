//! Endpoint policy: which push endpoints this server may send to.
//!
//! An endpoint comes from a browser, which means from whoever calls your
//! subscribe API. Without a policy an attacker registers
//! `https://169.254.169.254/…` or an internal host and makes your server send
//! requests there (server-side request forgery). The default policy:
//!
//! - `https` only, no userinfo in the URL;
//! - no IP-literal hosts;
//! - hosts that resolve to loopback, private, link-local, unspecified,
//!   shared (CGNAT), multicast or broadcast addresses are refused, checked
//!   on the resolved address at connect time (so DNS rebinding does not get
//!   around it);
//! - optionally, only hosts on an allow-list
//!   ([`EndpointPolicy::well_known_push_services`]).
//!
//! Tests and self-hosted services can allow `http` and loopback explicitly,
//! through the `danger_` setters.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::subscription::Endpoint;

/// The push services of the major browsers, as host suffixes: Chrome (FCM),
/// Firefox (Mozilla autopush), Safari (Apple), Edge (WNS).
pub const WELL_KNOWN_PUSH_HOSTS: &[&str] = &[
    "fcm.googleapis.com",
    "android.googleapis.com",
    "push.services.mozilla.com",
    "push.apple.com",
    "notify.windows.com",
];

/// Why an endpoint was refused. Names the rule, never the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// `http:` while only `https:` is allowed.
    #[error("endpoint refused: plain http is not allowed")]
    HttpNotAllowed,
    /// `user:pass@` in the URL.
    #[error("endpoint refused: URL carries userinfo")]
    Userinfo,
    /// An IP address as host.
    #[error("endpoint refused: IP-literal hosts are not allowed")]
    IpLiteral,
    /// The host resolved to (or is) an address of a refused kind.
    #[error("endpoint refused: address is {0}")]
    ForbiddenAddress(&'static str),
    /// The host is not on the allow-list.
    #[error("endpoint refused: host is not on the allow-list")]
    HostNotAllowed,
    /// Every resolved address was refused, or there was none.
    #[error("endpoint refused: no permitted address")]
    NoAddress,
}

/// Which endpoints may be contacted. Cheap to clone.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    allow_http: bool,
    allow_loopback: bool,
    allowed_hosts: Option<Vec<String>>,
}

impl fmt::Debug for EndpointPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointPolicy")
            .field("allow_http", &self.allow_http)
            .field("allow_loopback", &self.allow_loopback)
            .field("allowed_hosts", &self.allowed_hosts)
            .finish()
    }
}

impl EndpointPolicy {
    /// The strict default: https, public addresses, any host.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The default rules plus an allow-list of [`WELL_KNOWN_PUSH_HOSTS`].
    #[must_use]
    pub fn well_known_push_services() -> Self {
        Self::new().allowed_hosts(WELL_KNOWN_PUSH_HOSTS.iter().copied())
    }

    /// Only these hosts (and their subdomains) may be contacted.
    #[must_use]
    pub fn allowed_hosts<I, S>(mut self, hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let hosts = hosts
            .into_iter()
            .map(|h| h.into().trim_end_matches('.').to_ascii_lowercase())
            .collect();
        self.allowed_hosts = Some(hosts);
        self
    }

    /// Allows plain `http` endpoints. For tests and self-hosted services on a
    /// trusted network only: payloads stay encrypted, but VAPID tokens and
    /// metadata travel in the clear.
    #[must_use]
    pub const fn danger_allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Allows loopback addresses (127.0.0.0/8, ::1), as names or literals.
    /// For tests and a push service on the same machine only. Private and
    /// link-local addresses stay refused.
    #[must_use]
    pub const fn danger_allow_loopback(mut self, allow: bool) -> Self {
        self.allow_loopback = allow;
        self
    }

    /// Checks the endpoint's URL before any connection: scheme, userinfo,
    /// IP literals and the allow-list. The resolved addresses are checked by
    /// [`check_ip`](Self::check_ip) at connect time.
    ///
    /// # Errors
    /// The [`PolicyError`] of the first rule broken.
    pub fn check_endpoint(&self, endpoint: &Endpoint) -> Result<(), PolicyError> {
        let uri = endpoint.uri();
        if uri.scheme_str() == Some("http") && !self.allow_http {
            return Err(PolicyError::HttpNotAllowed);
        }
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(PolicyError::Userinfo);
        }
        let host = uri.host().unwrap_or_default();
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            // A literal is allowed only where it is loopback and loopback is.
            if !(self.allow_loopback && ip_kind(ip) == Some("loopback")) {
                return Err(PolicyError::IpLiteral);
            }
        }
        if let Some(allowed) = &self.allowed_hosts {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            let ok = allowed.iter().any(|a| {
                host == *a
                    || host
                        .strip_suffix(a.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
            });
            if !ok {
                return Err(PolicyError::HostNotAllowed);
            }
        }
        Ok(())
    }

    /// Checks one resolved address.
    ///
    /// # Errors
    /// [`PolicyError::ForbiddenAddress`] naming the kind of address.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), PolicyError> {
        match ip_kind(ip) {
            None => Ok(()),
            Some("loopback") if self.allow_loopback => Ok(()),
            Some(kind) => Err(PolicyError::ForbiddenAddress(kind)),
        }
    }

    /// Keeps the permitted addresses of a resolution.
    ///
    /// # Errors
    /// The first refusal when none is permitted ([`PolicyError::NoAddress`]
    /// for an empty list).
    pub fn filter_addrs<I>(&self, addrs: I) -> Result<Vec<std::net::SocketAddr>, PolicyError>
    where
        I: IntoIterator<Item = std::net::SocketAddr>,
    {
        let mut first_err = None;
        let kept: Vec<_> = addrs
            .into_iter()
            .filter(|a| match self.check_ip(a.ip()) {
                Ok(()) => true,
                Err(e) => {
                    first_err.get_or_insert(e);
                    false
                }
            })
            .collect();
        if kept.is_empty() {
            return Err(first_err.unwrap_or(PolicyError::NoAddress));
        }
        Ok(kept)
    }
}

/// The kind of a non-public address, or `None` for a public one.
fn ip_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_kind(v4),
            None => v6_kind(v6),
        },
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() || a == 0 {
        "unspecified"
    } else if ip.is_private() {
        "private"
    } else if ip.is_link_local() {
        "link-local"
    } else if a == 100 && (64..128).contains(&b) {
        "shared (CGNAT)"
    } else if ip.is_multicast() || a >= 224 {
        "multicast or reserved"
    } else if ip.is_broadcast() {
        "broadcast"
    } else if ip.is_documentation() || (a == 198 && (b == 18 || b == 19)) {
        "documentation or benchmarking"
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 {
        "IETF protocol assignment"
    } else {
        return None;
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() {
        "unspecified"
    } else if first & 0xfe00 == 0xfc00 {
        "private (unique local)"
    } else if first & 0xffc0 == 0xfe80 {
        "link-local"
    } else if first & 0xffc0 == 0xfec0 {
        // Deprecated (RFC 3879) but still routable inside some networks.
        "site-local"
    } else if first == 0x2002 {
        // 6to4 (RFC 3056): carries an IPv4 address, private ones included.
        "6to4"
    } else if first == 0x2001 && ip.segments()[1] == 0 {
        // Teredo (RFC 4380): tunnels to an embedded IPv4 address.
        "Teredo"
    } else if ip.is_multicast() {
        "multicast or reserved"
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        "documentation or benchmarking"
    } else if first == 0x0064 && ip.segments()[1] == 0xff9b {
        // NAT64: may map to any IPv4 address, private ones included.
        "NAT64"
    } else if ip.to_ipv4().is_some() {
        // IPv4-compatible (::a.b.c.d), deprecated.
        "IPv4-compatible"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests;
