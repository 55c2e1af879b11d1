use super::*;
use std::net::SocketAddr;

fn ep(s: &str) -> Endpoint {
    Endpoint::parse(s).unwrap()
}

#[test]
fn endpoint_table_default_policy() {
    let p = EndpointPolicy::new();
    let cases: &[(&str, Result<(), PolicyError>)] = &[
        ("https://fcm.googleapis.com/fcm/send/x", Ok(())),
        ("https://push.example:8443/x", Ok(())),
        ("http://push.example/x", Err(PolicyError::HttpNotAllowed)),
        ("https://user:pw@push.example/x", Err(PolicyError::Userinfo)),
        (
            "https://169.254.169.254/latest/meta-data",
            Err(PolicyError::IpLiteral),
        ),
        ("https://127.0.0.1:8443/x", Err(PolicyError::IpLiteral)),
        ("https://[::1]:8443/x", Err(PolicyError::IpLiteral)),
        ("https://8.8.8.8/x", Err(PolicyError::IpLiteral)),
        ("https://10.0.0.1/x", Err(PolicyError::IpLiteral)),
    ];
    for (url, want) in cases {
        assert_eq!(p.check_endpoint(&ep(url)), *want, "{url}");
    }
}

#[test]
fn danger_switches_allow_only_what_they_say() {
    let p = EndpointPolicy::new()
        .danger_allow_http(true)
        .danger_allow_loopback(true);
    assert_eq!(p.check_endpoint(&ep("http://127.0.0.1:8080/x")), Ok(()));
    assert_eq!(p.check_endpoint(&ep("https://[::1]:8443/x")), Ok(()));
    assert_eq!(
        p.check_endpoint(&ep("https://10.0.0.1/x")),
        Err(PolicyError::IpLiteral)
    );
    assert_eq!(p.check_ip("127.0.0.1".parse().unwrap()), Ok(()));
    assert_eq!(
        p.check_ip("192.168.1.1".parse().unwrap()),
        Err(PolicyError::ForbiddenAddress("private"))
    );
}

#[test]
fn allow_list_matches_hosts_and_subdomains_only() {
    let p = EndpointPolicy::well_known_push_services();
    for url in [
        "https://fcm.googleapis.com/fcm/send/x",
        "https://updates.push.services.mozilla.com/wpush/v2/x",
        "https://web.push.apple.com/x",
        "https://wns2-by3p.notify.windows.com/w/?token=x",
        "https://FCM.googleapis.com./x",
    ] {
        assert_eq!(p.check_endpoint(&ep(url)), Ok(()), "{url}");
    }
    for url in [
        "https://evilpush.apple.com.attacker.example/x",
        "https://notpush.apple.com/x",
        "https://attacker.example/x",
    ] {
        assert_eq!(
            p.check_endpoint(&ep(url)),
            Err(PolicyError::HostNotAllowed),
            "{url}"
        );
    }
}

#[test]
fn address_table() {
    let p = EndpointPolicy::new();
    let cases: &[(&str, Option<&str>)] = &[
        ("8.8.8.8", None),
        ("142.250.74.106", None),
        ("2a00:1450:4001:82b::200a", None),
        ("127.0.0.1", Some("loopback")),
        ("127.255.0.9", Some("loopback")),
        ("::1", Some("loopback")),
        ("::ffff:127.0.0.1", Some("loopback")),
        ("0.0.0.0", Some("unspecified")),
        ("::", Some("unspecified")),
        ("10.1.2.3", Some("private")),
        ("172.16.0.1", Some("private")),
        ("192.168.0.1", Some("private")),
        ("::ffff:10.0.0.1", Some("private")),
        ("fd00::1", Some("private (unique local)")),
        ("169.254.169.254", Some("link-local")),
        ("fe80::1", Some("link-local")),
        ("fec0::1", Some("site-local")),
        ("2002:a00:1::1", Some("6to4")),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Some("Teredo")),
        ("2001:4860:4860::8888", None),
        ("100.64.0.1", Some("shared (CGNAT)")),
        ("224.0.0.1", Some("multicast or reserved")),
        ("255.255.255.255", Some("multicast or reserved")),
        ("ff02::1", Some("multicast or reserved")),
        ("192.0.2.1", Some("documentation or benchmarking")),
        ("2001:db8::1", Some("documentation or benchmarking")),
        ("64:ff9b::a00:1", Some("NAT64")),
    ];
    for (ip, kind) in cases {
        let want = kind.map_or(Ok(()), |k| Err(PolicyError::ForbiddenAddress(k)));
        assert_eq!(p.check_ip(ip.parse().unwrap()), want, "{ip}");
    }
}

#[test]
fn filter_keeps_public_addresses_and_refuses_all_private_sets() {
    let p = EndpointPolicy::new();
    let a = |s: &str| s.parse::<SocketAddr>().unwrap();
    assert_eq!(
        p.filter_addrs([a("10.0.0.1:443"), a("8.8.8.8:443")]),
        Ok(vec![a("8.8.8.8:443")])
    );
    assert_eq!(
        p.filter_addrs([a("127.0.0.1:443")]),
        Err(PolicyError::ForbiddenAddress("loopback"))
    );
    assert_eq!(p.filter_addrs([]), Err(PolicyError::NoAddress));
}
