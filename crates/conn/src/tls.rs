//! TLS with rustls (ring provider): trust anchors from the system or a PEM
//! bundle, hostname verification on by default, optional client certificate.
//!
//! Turning hostname verification off (`ssl.endpoint.identification.algorithm=`)
//! swaps in [`ChainOnlyVerifier`], which still validates the whole chain to a
//! trusted root (signatures, validity dates, server-auth usage) and only skips
//! the check that the certificate names the host.

use std::io::IoSlice;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::ConnError;
use crate::material::{Secret, SecurityError, read_file};

/// Where trusted CA certificates come from.
#[derive(Debug, Clone)]
pub enum Ca {
    /// The operating system's store (`/etc/ssl/certs`, `SSL_CERT_FILE`, `SSL_CERT_DIR`).
    System,
    /// A PEM file with one or more CA certificates (or a directory of them).
    PemFile {
        /// The property it came from (for messages).
        key: String,
        /// The path.
        path: PathBuf,
    },
    /// PEM text.
    Pem {
        /// The property it came from.
        key: String,
        /// The certificates.
        pem: String,
    },
}

/// A PEM file or PEM text (a private key is text that must stay secret).
#[derive(Debug, Clone)]
pub enum PemSource {
    /// A file.
    File {
        /// The property it came from.
        key: String,
        /// The path.
        path: PathBuf,
    },
    /// Inline PEM.
    Inline {
        /// The property it came from.
        key: String,
        /// The PEM text.
        pem: Secret,
    },
}

impl PemSource {
    fn key(&self) -> &str {
        match self {
            PemSource::File { key, .. } | PemSource::Inline { key, .. } => key,
        }
    }

    fn describe(&self) -> String {
        match self {
            PemSource::File { path, .. } => path.display().to_string(),
            PemSource::Inline { key, .. } => format!("<{key}>"),
        }
    }

    fn bytes(&self) -> Result<Vec<u8>, SecurityError> {
        match self {
            PemSource::File { key, path } => read_file(key, path),
            PemSource::Inline { pem, .. } => Ok(pem.expose().as_bytes().to_vec()),
        }
    }
}

/// A client certificate chain and its private key (PKCS#8, PKCS#1 or SEC1 PEM),
/// for mutual TLS. Both may come from the same file.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    /// The certificate chain, leaf first.
    pub cert: PemSource,
    /// The unencrypted private key.
    pub key: PemSource,
}

/// What [`TlsConfig::new`] builds from.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// Trust anchors.
    pub ca: Ca,
    /// Client certificate for mTLS.
    pub client: Option<ClientIdentity>,
    /// Check that the broker's certificate names the host connected to
    /// (default true). Chain validation happens either way.
    pub verify_hostname: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions { ca: Ca::System, client: None, verify_hostname: true }
    }
}

/// A ready rustls client configuration, built once and shared by every
/// connection (certificate files are read when it is built).
#[derive(Clone)]
pub struct TlsConfig {
    client: Arc<ClientConfig>,
    trust: String,
    identity: Option<String>,
    verify_hostname: bool,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("trust", &self.trust)
            .field("client_certificate", &self.identity)
            .field("verify_hostname", &self.verify_hostname)
            .finish()
    }
}

impl TlsConfig {
    /// Reads the certificates and key and builds the rustls configuration.
    pub fn new(opts: TlsOptions) -> Result<Self, SecurityError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (roots, trust) = load_roots(&opts.ca)?;
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| SecurityError::Tls(e.to_string()))?;
        let builder = if opts.verify_hostname {
            builder.with_root_certificates(roots)
        } else {
            let verifier = ChainOnlyVerifier {
                roots: Arc::new(roots),
                algs: provider.signature_verification_algorithms,
            };
            builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier))
        };
        let (client, identity) = match &opts.client {
            None => (builder.with_no_client_auth(), None),
            Some(id) => {
                let chain = load_certs(&id.cert)?;
                let key = load_key(&id.key)?;
                let cfg = builder.with_client_auth_cert(chain, key).map_err(|e| {
                    SecurityError::Tls(format!(
                        "client certificate {} and key {} don't fit together: {e}",
                        id.cert.describe(),
                        id.key.describe()
                    ))
                })?;
                (cfg, Some(id.cert.describe()))
            }
        };
        Ok(TlsConfig { client: Arc::new(client), trust, identity, verify_hostname: opts.verify_hostname })
    }

    /// Whether the broker's host name is checked against its certificate.
    pub fn verify_hostname(&self) -> bool {
        self.verify_hostname
    }

    /// The rustls configuration.
    pub fn client_config(&self) -> &Arc<ClientConfig> {
        &self.client
    }

    /// Runs the TLS handshake over `tcp` for `addr` (`host:port`).
    pub(crate) async fn connect(
        &self,
        tcp: TcpStream,
        addr: &str,
    ) -> Result<TlsStream<NoSigPipe>, ConnError> {
        let name = server_name(addr)?;
        TlsConnector::from(self.client.clone())
            .connect(name, NoSigPipe { tcp, scratch: Vec::new() })
            .await
            .map_err(|e| handshake_error(addr, &e))
    }
}

/// A TCP stream whose vectored writes go through `send(MSG_NOSIGNAL)`.
///
/// rustls writes TLS records with `write_vectored`, which tokio turns into
/// `writev(2)`; unlike `send`, `writev` raises SIGPIPE when the peer has
/// reset the connection (a broker refusing a client certificate does that),
/// and a binary that restores SIGPIPE's default action (as `kwire` does, for
/// `kwire ... | head`) would die silently. Gathering the slices into one
/// buffer costs a copy, small beside the encryption.
#[derive(Debug)]
pub struct NoSigPipe {
    tcp: TcpStream,
    scratch: Vec<u8>,
}

/// Most bytes gathered into one write.
const GATHER_MAX: usize = 64 * 1024;

impl AsyncRead for NoSigPipe {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for NoSigPipe {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let mut nonempty = bufs.iter().filter(|b| !b.is_empty());
        match (nonempty.next(), nonempty.next()) {
            (None, _) => Poll::Ready(Ok(0)),
            (Some(one), None) => Pin::new(&mut this.tcp).poll_write(cx, one),
            _ => {
                this.scratch.clear();
                for b in bufs {
                    let room = GATHER_MAX.saturating_sub(this.scratch.len());
                    if room == 0 {
                        break;
                    }
                    this.scratch.extend_from_slice(&b[..b.len().min(room)]);
                }
                Pin::new(&mut this.tcp).poll_write(cx, &this.scratch)
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        false
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// The name to verify: the host part of `host:port` (IP addresses included).
fn server_name(addr: &str) -> Result<ServerName<'static>, ConnError> {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|e| ConnError::Tls {
        addr: addr.to_owned(),
        reason: format!("'{host}' is not a valid TLS server name: {e}"),
    })
}

/// Maps an I/O error from the TLS layer to a [`ConnError`], with a hint for
/// the usual causes. Errors rustls raised (certificates, alerts) are fatal
/// ([`ConnError::Tls`]); plain socket errors stay retriable.
pub(crate) fn handshake_error(addr: &str, e: &std::io::Error) -> ConnError {
    if let Some(tls) = tls_error(e) {
        return ConnError::Tls { addr: addr.to_owned(), reason: describe_tls_error(tls) };
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => ConnError::Tls {
            addr: addr.to_owned(),
            reason: format!(
                "the broker closed the connection during the TLS handshake ({e}); is this a TLS listener?"
            ),
        },
        _ => ConnError::Io { addr: addr.to_owned(), reason: e.to_string() },
    }
}

/// The rustls error inside an I/O error, if any.
pub(crate) fn tls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>())
}

/// A rustls error in words, with what to do about it.
pub(crate) fn describe_tls_error(e: &rustls::Error) -> String {
    use rustls::{AlertDescription, CertificateError, Error};
    let hint = match e {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "; the broker's certificate is not signed by a trusted CA (set ssl.ca.location to the CA that signed it)"
        }
        Error::InvalidCertificate(CertificateError::NotValidForName)
        | Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
            "; the certificate does not name this host (connect by a name it has, or set \
             ssl.endpoint.identification.algorithm= to skip only the name check)"
        }
        Error::InvalidCertificate(CertificateError::Expired)
        | Error::InvalidCertificate(CertificateError::ExpiredContext { .. }) => {
            "; the broker's certificate has expired"
        }
        Error::AlertReceived(
            AlertDescription::CertificateRequired
            | AlertDescription::HandshakeFailure
            | AlertDescription::BadCertificate,
        ) => {
            "; the broker wants a client certificate it trusts (set ssl.certificate.location and ssl.key.location)"
        }
        Error::AlertReceived(AlertDescription::UnknownCA) => {
            "; the broker does not trust the CA of kwire's client certificate"
        }
        _ => "",
    };
    format!("{e}{hint}")
}

fn load_roots(ca: &Ca) -> Result<(RootCertStore, String), SecurityError> {
    let mut roots = RootCertStore::empty();
    match ca {
        Ca::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found.errors.first().map(|e| format!(" ({e})")).unwrap_or_default();
                return Err(SecurityError::Tls(format!(
                    "no CA certificates found in the system store{why}; set ssl.ca.location to a PEM file"
                )));
            }
            Ok((roots, format!("system ({added} CAs)")))
        }
        Ca::PemFile { key, path } => {
            let files = if path.is_dir() {
                let mut v: Vec<PathBuf> = std::fs::read_dir(path)
                    .map_err(|e| SecurityError::Pem {
                        key: key.clone(),
                        reason: format!("cannot read directory {}: {e}", path.display()),
                    })?
                    .filter_map(|d| d.ok().map(|d| d.path()))
                    .filter(|p| p.is_file())
                    .collect();
                v.sort();
                v
            } else {
                vec![path.clone()]
            };
            let mut n = 0;
            for f in &files {
                let pem = read_file(key, f)?;
                for cert in parse_certs(key, &pem, &f.display().to_string())? {
                    roots.add(cert).map_err(|e| SecurityError::Pem {
                        key: key.clone(),
                        reason: format!("{}: not a usable CA certificate: {e}", f.display()),
                    })?;
                    n += 1;
                }
            }
            if n == 0 {
                return Err(SecurityError::Pem {
                    key: key.clone(),
                    reason: format!("no PEM certificate (-----BEGIN CERTIFICATE-----) in {}", path.display()),
                });
            }
            Ok((roots, path.display().to_string()))
        }
        Ca::Pem { key, pem } => {
            let certs = parse_certs(key, pem.as_bytes(), key)?;
            if certs.is_empty() {
                return Err(SecurityError::Pem {
                    key: key.clone(),
                    reason: "no PEM certificate in the value".into(),
                });
            }
            for cert in certs {
                roots.add(cert).map_err(|e| SecurityError::Pem {
                    key: key.clone(),
                    reason: format!("not a usable CA certificate: {e}"),
                })?;
            }
            Ok((roots, format!("<{key}>")))
        }
    }
}

fn parse_certs(key: &str, pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, SecurityError> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SecurityError::Pem { key: key.into(), reason: format!("{what}: bad PEM: {e}") })
}

fn load_certs(src: &PemSource) -> Result<Vec<CertificateDer<'static>>, SecurityError> {
    let pem = src.bytes()?;
    let certs = parse_certs(src.key(), &pem, &src.describe())?;
    if certs.is_empty() {
        return Err(SecurityError::Pem {
            key: src.key().into(),
            reason: format!("no PEM certificate (-----BEGIN CERTIFICATE-----) in {}", src.describe()),
        });
    }
    Ok(certs)
}

fn load_key(src: &PemSource) -> Result<PrivateKeyDer<'static>, SecurityError> {
    let pem = src.bytes()?;
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(k) => Ok(k),
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            let encrypted = pem.windows(9).any(|w| w == b"ENCRYPTED");
            let reason = if encrypted {
                format!(
                    "{}: the private key is encrypted, which kwire does not support; decrypt it \
                     (openssl pkcs8 -topk8 -nocrypt) and keep the file readable only by you",
                    src.describe()
                )
            } else {
                format!("no PEM private key (-----BEGIN PRIVATE KEY-----) in {}", src.describe())
            };
            Err(SecurityError::Pem { key: src.key().into(), reason })
        }
        // The PEM error names a section, never key material.
        Err(e) => Err(SecurityError::Pem {
            key: src.key().into(),
            reason: format!("{}: bad PEM: {e}", src.describe()),
        }),
    }
}

/// Validates the certificate chain to a trusted root exactly as the default
/// verifier does (signatures, validity period, server-auth key usage), but
/// does not require the certificate to name the host. Handshake signatures
/// are verified as usual.
#[derive(Debug)]
pub struct ChainOnlyVerifier {
    roots: Arc<RootCertStore>,
    algs: WebPkiSupportedAlgorithms,
}

impl ChainOnlyVerifier {
    /// A verifier trusting `roots`, with the signature algorithms of `provider`.
    pub fn new(roots: Arc<RootCertStore>, provider: &CryptoProvider) -> Self {
        ChainOnlyVerifier { roots, algs: provider.signature_verification_algorithms }
    }
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algs.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_from_addresses() {
        assert!(matches!(server_name("127.0.0.1:9093").unwrap(), ServerName::IpAddress(_)));
        assert!(matches!(server_name("[::1]:9093").unwrap(), ServerName::IpAddress(_)));
        assert!(matches!(server_name("localhost:9093").unwrap(), ServerName::DnsName(_)));
        assert!(server_name("bad name:1").is_err());
    }

    #[test]
    fn missing_files_name_the_property() {
        let e = TlsConfig::new(TlsOptions {
            ca: Ca::PemFile { key: "ssl.ca.location".into(), path: "/nonexistent/ca.pem".into() },
            ..TlsOptions::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("ssl.ca.location: cannot read /nonexistent/ca.pem"), "{e}");
        let e = TlsConfig::new(TlsOptions {
            ca: Ca::Pem { key: "ssl.ca.pem".into(), pem: "nothing here".into() },
            ..TlsOptions::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("no PEM certificate"), "{e}");
    }

    #[test]
    fn inline_key_material_never_reaches_messages() {
        let key = PemSource::Inline {
            key: "ssl.key.pem".into(),
            pem: Secret::new(
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nc2VjcmV0\n-----END ENCRYPTED PRIVATE KEY-----\n",
            ),
        };
        let e = load_key(&key).unwrap_err().to_string();
        assert!(e.contains("encrypted") && !e.contains("c2VjcmV0"), "{e}");
        assert!(!format!("{key:?}").contains("c2VjcmV0"));
    }
}
