//! The networking env vars every Run gets (spec §6.5).

use diego_model::{EnvVar, PortMapping};

fn var(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: value.into(),
    }
}

fn ports_json(ports: &[PortMapping]) -> String {
    let entries: Vec<serde_json::Value> = ports
        .iter()
        .map(|p| {
            let mut m = serde_json::Map::new();
            if p.host_port != 0 {
                m.insert("external".into(), p.host_port.into());
            }
            m.insert("internal".into(), p.container_port.into());
            if p.host_tls_proxy_port != 0 {
                m.insert("external_tls_proxy".into(), p.host_tls_proxy_port.into());
            }
            if p.container_tls_proxy_port != 0 {
                m.insert(
                    "internal_tls_proxy".into(),
                    p.container_tls_proxy_port.into(),
                );
            }
            serde_json::Value::Object(m)
        })
        .collect();
    serde_json::Value::Array(entries).to_string()
}

pub fn networking_env(external_ip: &str, internal_ip: &str, ports: &[PortMapping]) -> Vec<EnvVar> {
    let mut vars = vec![
        var("CF_INSTANCE_IP", external_ip),
        var("CF_INSTANCE_INTERNAL_IP", internal_ip),
    ];
    match ports.first() {
        Some(first) => {
            vars.push(var("CF_INSTANCE_PORT", first.host_port.to_string()));
            vars.push(var(
                "CF_INSTANCE_ADDR",
                format!("{external_ip}:{}", first.host_port),
            ));
        }
        None => {
            vars.push(var("CF_INSTANCE_PORT", ""));
            vars.push(var("CF_INSTANCE_ADDR", ""));
        }
    }
    vars.push(var("CF_INSTANCE_PORTS", ports_json(ports)));
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_and_without_ports() {
        let none = networking_env("10.0.0.1", "10.255.0.2", &[]);
        assert!(none.contains(&var("CF_INSTANCE_PORT", "")));
        assert!(none.contains(&var("CF_INSTANCE_PORTS", "[]")));
        let ports = [PortMapping {
            container_port: 8080,
            host_port: 61001,
            ..Default::default()
        }];
        let some = networking_env("10.0.0.1", "10.255.0.2", &ports);
        assert!(some.contains(&var("CF_INSTANCE_ADDR", "10.0.0.1:61001")));
        assert!(some.contains(&var(
            "CF_INSTANCE_PORTS",
            r#"[{"external":61001,"internal":8080}]"#
        )));
        assert!(some.contains(&var("CF_INSTANCE_INTERNAL_IP", "10.255.0.2")));
    }
}
