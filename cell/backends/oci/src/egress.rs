//! Egress rules (application security groups) as nftables rules inside the
//! container's own network namespace, as Garden's NetOut rules: once a
//! container has rules, its outbound traffic is dropped except loopback,
//! replies to connections made to it (health checks, routed requests) and
//! what a rule allows. The rules live and die with the netns, so teardown
//! leaves nothing behind; the app, without CAP_NET_ADMIN, cannot change them.
//! A container without rules keeps open egress (a diego-rs default; Garden
//! denies it, and Cloud Controller always sends its default groups).

use std::net::IpAddr;

use diego_model::SecurityGroupRule;

use crate::{cmd, OciError, Result};

const TABLE: &str = "diego_egress";

/// The nft script for `rules` (validated by the BBS, so every destination
/// parses); `None` when there are none.
pub(crate) fn script(rules: &[SecurityGroupRule]) -> Option<String> {
    if rules.is_empty() {
        return None;
    }
    let mut out = format!(
        "table inet {TABLE} {{\n  chain output {{\n    type filter hook output priority 0; policy drop;\n    oifname \"lo\" accept\n    ct state established,related accept\n"
    );
    for rule in rules {
        let (v4, v6) = destinations(&rule.destinations);
        for (family, set) in [("ip", v4), ("ip6", v6)] {
            if set.is_empty() {
                continue;
            }
            let mut line = format!("    {family} daddr {{ {} }}", set.join(", "));
            line.push_str(&protocol(rule, family));
            if rule.log {
                line.push_str(" log prefix \"diego-egress \"");
            }
            line.push_str(" accept\n");
            out.push_str(&line);
        }
    }
    out.push_str("  }\n}\n");
    Some(out)
}

/// Destinations by family, as nft set elements: `a-b` ranges, CIDRs and
/// single addresses are all nft syntax already.
fn destinations(destinations: &[String]) -> (Vec<String>, Vec<String>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for d in destinations {
        let first = d.split(['/', '-']).next().unwrap_or(d);
        match first.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => v4.push(d.clone()),
            Ok(IpAddr::V6(_)) => v6.push(d.clone()),
            // the BBS refuses these; a record from elsewhere allows nothing
            Err(_) => {}
        }
    }
    (v4, v6)
}

fn protocol(rule: &SecurityGroupRule, family: &str) -> String {
    let ports = || match (&rule.port_range, rule.ports.as_slice()) {
        (Some(r), _) => format!(" th dport {}-{}", r.start, r.end),
        (None, []) => String::new(),
        (None, ports) => {
            let list: Vec<String> = ports.iter().map(u32::to_string).collect();
            format!(" th dport {{ {} }}", list.join(", "))
        }
    };
    match rule.protocol.as_str() {
        "tcp" => format!(" meta l4proto tcp{}", ports()),
        "udp" => format!(" meta l4proto udp{}", ports()),
        "icmp" => {
            let (proto, keyword) = match family {
                "ip" => ("icmp", "icmp"),
                _ => ("ipv6-icmp", "icmpv6"),
            };
            let mut s = format!(" meta l4proto {proto}");
            // a negative type or code means any, as in Cloud Foundry's groups
            if let Some(info) = rule.icmp_info.filter(|i| i.icmp_type >= 0) {
                s.push_str(&format!(" {keyword} type {}", info.icmp_type));
                if info.code >= 0 {
                    s.push_str(&format!(" {keyword} code {}", info.code));
                }
            }
            s
        }
        // "all": any protocol to these destinations
        _ => String::new(),
    }
}

/// Installs the rules in the container's netns before anything runs in it.
pub(crate) async fn apply(netns: &str, rules: &[SecurityGroupRule]) -> Result<()> {
    let Some(script) = script(rules) else {
        return Ok(());
    };
    cmd::run_with_stdin(
        "ip",
        &["netns", "exec", netns, "nft", "-f", "-"],
        &[],
        Some(script.as_bytes()),
    )
    .await
    .map(|_| ())
    .map_err(|e| OciError::Egress(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use diego_model::{IcmpInfo, PortRange};

    fn rule(protocol: &str, destinations: &[&str]) -> SecurityGroupRule {
        SecurityGroupRule {
            protocol: protocol.into(),
            destinations: destinations.iter().map(|d| d.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn no_rules_no_table() {
        assert_eq!(script(&[]), None);
    }

    #[test]
    fn each_rule_becomes_an_accept_per_family_under_a_drop_policy() {
        let mut tcp = rule("tcp", &["10.0.0.0/8", "192.168.1.1-192.168.1.9", "fd00::1"]);
        tcp.ports = vec![80, 443];
        tcp.log = true;
        let mut udp = rule("udp", &["8.8.8.8"]);
        udp.port_range = Some(PortRange { start: 53, end: 54 });
        let mut icmp = rule("icmp", &["0.0.0.0/0"]);
        icmp.icmp_info = Some(IcmpInfo {
            icmp_type: 8,
            code: -1,
        });
        let all = rule("all", &["172.16.0.1"]);
        let s = script(&[tcp, udp, icmp, all]).unwrap();
        assert!(s.contains("policy drop;"), "{s}");
        assert!(s.contains("oifname \"lo\" accept"), "{s}");
        assert!(s.contains("ct state established,related accept"), "{s}");
        assert!(s.contains("ip daddr { 10.0.0.0/8, 192.168.1.1-192.168.1.9 } meta l4proto tcp th dport { 80, 443 } log prefix \"diego-egress \" accept"), "{s}");
        assert!(
            s.contains("ip6 daddr { fd00::1 } meta l4proto tcp th dport { 80, 443 }"),
            "{s}"
        );
        assert!(
            s.contains("ip daddr { 8.8.8.8 } meta l4proto udp th dport 53-54 accept"),
            "{s}"
        );
        assert!(
            s.contains("ip daddr { 0.0.0.0/0 } meta l4proto icmp icmp type 8 accept"),
            "{s}"
        );
        assert!(s.contains("ip daddr { 172.16.0.1 } accept"), "{s}");
    }
}
