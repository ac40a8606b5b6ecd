//! How the library's closed sets are spelled on the command line: clap's `ValueEnum` for
//! [`Method`], [`AddressType`] and [`Endpoint`], with the help text of each value. The types
//! themselves live in [`crate::access`] and know nothing of clap.

use clap::ValueEnum;
use clap::builder::PossibleValue;

use crate::access::{AddressType, Endpoint, Method};
use crate::cluster::plan::KubeletAuth;

impl ValueEnum for KubeletAuth {
    fn value_variants<'a>() -> &'a [Self] {
        &KubeletAuth::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            KubeletAuth::Token => {
                "--token-file, else the pod's service-account token; never the kubeconfig's"
            }
            KubeletAuth::Kubeconfig => {
                "The kubeconfig user's own credentials too (warned: every kubelet sees them)"
            }
            KubeletAuth::None => "No credentials: anonymous requests",
        };
        Some(PossibleValue::new(self.as_str()).help(help))
    }
}

impl ValueEnum for Method {
    fn value_variants<'a>() -> &'a [Self] {
        &Method::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            Method::Proxy => {
                "Through the API server: /api/v1/nodes/{node}/proxy/{path} with kubeconfig credentials"
            }
            Method::Direct => "Straight to each kubelet: https://{address}:{port}/{path} with a bearer token",
        };
        Some(PossibleValue::new(self.as_str()).help(help))
    }
}

impl ValueEnum for AddressType {
    fn value_variants<'a>() -> &'a [Self] {
        &AddressType::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            AddressType::InternalIp => "status.addresses[type=InternalIP]",
            AddressType::ExternalIp => "status.addresses[type=ExternalIP]",
            AddressType::Hostname => "status.addresses[type=Hostname]",
        };
        Some(PossibleValue::new(self.as_str()).help(help))
    }
}

impl ValueEnum for Endpoint {
    fn value_variants<'a>() -> &'a [Self] {
        &Endpoint::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            Endpoint::Metrics => "/metrics: the kubelet's own metrics",
            Endpoint::Cadvisor => "/metrics/cadvisor: container metrics",
            Endpoint::Resource => "/metrics/resource: resource usage summary",
            Endpoint::Probes => "/metrics/probes: probe results",
            Endpoint::Slis => {
                "/metrics/slis: the kubelet's healthchecks (kubernetes_healthcheck, GA in 1.29)"
            }
        };
        Some(PossibleValue::new(self.as_str()).help(help))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for method in Method::ALL {
            assert_eq!(Method::from_str(method.as_str(), false), Ok(method));
        }
        for address in AddressType::ALL {
            assert_eq!(AddressType::from_str(address.as_str(), false), Ok(address));
        }
        for endpoint in Endpoint::ALL {
            assert_eq!(Endpoint::from_str(endpoint.as_str(), false), Ok(endpoint));
        }
    }
}
