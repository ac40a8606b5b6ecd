//! Certificates and TLS configurations: the cluster CA (API server, client certificates), the separate
//! kubelet CA (kubelet serving certificates), and the rustls configs built from them.
//! Who a client certificate names is decided here; what that user may do lives in `rbac`.

use std::{net::IpAddr, sync::Arc};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::{
    ClientConfig, RootCertStore, ServerConfig,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    server::WebPkiClientVerifier,
};

use crate::rbac::UserInfo;

/// The name in a `badcert` kubelet's certificate: valid, signed by the kubelet CA, but for another host.
pub const WRONG_NAME: &str = "wrong.kubesim.invalid";

/// The ring crypto provider, used explicitly so the process default never matters.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate authority that can sign leaves.
pub(crate) struct Authority {
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub pem: String,
    /// The CA certificate, DER.
    pub der: CertificateDer<'static>,
}

/// A leaf certificate with its private key.
pub(crate) struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
    pub key_der: Vec<u8>,
}

impl Leaf {
    /// The certificate chain and key in rustls' form.
    pub fn rustls(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (vec![self.der.clone()], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())))
    }
}

impl Authority {
    /// A new self-signed CA with this common name.
    pub fn new(common_name: &str) -> anyhow::Result<Self> {
        let key = KeyPair::generate().context("generating a CA key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name, &[]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).context("signing a CA certificate")?;
        Ok(Self { pem: cert.pem(), der: cert.der().clone(), issuer: Issuer::new(params, key) })
    }

    /// An existing CA, from its certificate and its PKCS#8 private key (PEM): kubelets-only mode signs
    /// kubelet serving certificates with the CA the real API server trusts.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> anyhow::Result<Self> {
        let key = KeyPair::from_pem(key_pem)
            .context("reading the CA key (a PKCS#8 `PRIVATE KEY`; convert others with `openssl pkcs8 -topk8 -nocrypt`)")?;
        let der = certificates(cert_pem)?.into_iter().next().context("the CA PEM holds no certificate")?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key).context("reading the CA certificate")?;
        Ok(Self { pem: cert_pem.to_string(), der, issuer })
    }

    /// A serving certificate for these DNS names and IP addresses.
    pub fn server(
        &self,
        common_name: &str,
        dns: &[&str],
        ips: &[IpAddr],
        key: &KeyPair,
    ) -> anyhow::Result<Leaf> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name, &[]);
        params.subject_alt_names = dns
            .iter()
            .map(|d| Ok(SanType::DnsName((*d).try_into()?)))
            .chain(ips.iter().map(|ip| Ok(SanType::IpAddress(*ip))))
            .collect::<Result<_, rcgen::Error>>()?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params, key)
    }

    /// A client certificate: CN is the user name, O the groups, as Kubernetes reads them.
    pub fn client(&self, user: &str, groups: &[&str]) -> anyhow::Result<Leaf> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(user, groups);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params, &key)
    }

    fn sign(&self, params: CertificateParams, key: &KeyPair) -> anyhow::Result<Leaf> {
        let cert = params.signed_by(key, &self.issuer).context("signing a certificate")?;
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
            key_der: key.serialize_der(),
        })
    }

    /// A root store holding only this CA.
    pub fn roots(&self) -> anyhow::Result<Arc<RootCertStore>> {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).context("adding a CA to a root store")?;
        Ok(Arc::new(roots))
    }
}

/// Every certificate in a PEM bundle.
pub(crate) fn certificates(pem: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    rustls_pemfile::certs(&mut pem.as_bytes()).collect::<Result<_, _>>().context("reading PEM certificates")
}

/// A root store of every certificate in a PEM bundle.
pub(crate) fn roots_from_pem(pem: &str) -> anyhow::Result<Arc<RootCertStore>> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(pem)? {
        roots.add(cert).context("adding a CA to a root store")?;
    }
    anyhow::ensure!(!roots.is_empty(), "the CA PEM holds no certificate");
    Ok(Arc::new(roots))
}

/// A TLS client config trusting the CAs in `ca_pem` and presenting a client certificate and key (PEM).
pub(crate) fn client_config_from_pem(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> anyhow::Result<Arc<ClientConfig>> {
    let roots = roots_from_pem(ca_pem)?;
    let chain = certificates(cert_pem)?;
    anyhow::ensure!(!chain.is_empty(), "the client certificate PEM holds no certificate");
    let key = rustls_pemfile::private_key(&mut key_pem.as_bytes())
        .context("reading the client key")?
        .context("the client key PEM holds no private key")?;
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .context("loading the client certificate")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn name(common_name: &str, organizations: &[&str]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for org in organizations {
        dn.push(DnType::OrganizationName, *org);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

/// A TLS server config serving `leaf`, asking for (but not requiring) client certificates from `client_ca`.
pub(crate) fn server_config(
    leaf: &Leaf,
    client_ca: &Arc<RootCertStore>,
) -> anyhow::Result<Arc<ServerConfig>> {
    let verifier = WebPkiClientVerifier::builder_with_provider(client_ca.clone(), provider())
        .allow_unauthenticated()
        .build()
        .context("building the client certificate verifier")?;
    let (chain, key) = leaf.rustls();
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .context("loading a serving certificate")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TLS client config trusting `roots` and presenting `identity`.
pub(crate) fn client_config(
    roots: &Arc<RootCertStore>,
    identity: &Leaf,
) -> anyhow::Result<Arc<ClientConfig>> {
    let (chain, key) = identity.rustls();
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots.clone())
        .with_client_auth_cert(chain, key)
        .context("loading a client certificate")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Enough resumable sessions for every kubelet of a large cluster.
    config.resumption = rustls::client::Resumption::in_memory_sessions(4096);
    Ok(Arc::new(config))
}

/// The user a verified client certificate names: CN is the user, each O a group.
pub(crate) fn user_from_cert(der: &[u8]) -> Option<UserInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let name = subject.iter_common_name().next()?.as_str().ok()?.to_string();
    let mut groups: Vec<String> =
        subject.iter_organization().filter_map(|o| o.as_str().ok().map(str::to_string)).collect();
    groups.push("system:authenticated".to_string());
    Some(UserInfo { name, uid: String::new(), groups })
}
