"""TLS material for a secured local node: a CA made for one instance (its key is not kept), a node certificate
for localhost, 127.0.0.1 and ::1, and an admin client certificate; with the cryptography package, else openssl."""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Optional

from opensearch_llm.errors import LocalNodeError

CA_FILE = "root-ca.pem"
NODE_CERT, NODE_KEY = "node.pem", "node-key.pem"
ADMIN_CERT, ADMIN_KEY = "admin.pem", "admin-key.pem"
NODE_DN = "CN=node,OU=opensearch-llm,O=opensearch-llm"
ADMIN_DN = "CN=admin,OU=opensearch-llm,O=opensearch-llm"
HOSTS = ("localhost",)
IPS = ("127.0.0.1", "::1")
VALID_DAYS = 3650


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the start (never readable by others)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def tls_backend() -> str:
    """``cryptography`` when importable, else ``openssl`` (the CLI), else an error naming both."""
    try:
        import cryptography  # noqa: F401
        return "cryptography"
    except ImportError:
        pass
    if shutil.which("openssl"):
        return "openssl"
    raise LocalNodeError("cannot make TLS certificates: neither the cryptography package nor openssl is installed",
                         hint="pip install cryptography, or apt-get install openssl")


def generate_tls(dest: Path, label: str = "local", backend: Optional[str] = None) -> None:
    """A new CA (its key is not kept), a node certificate for localhost/127.0.0.1/::1 and an admin client cert."""
    dest.mkdir(parents=True, exist_ok=True)
    backend = backend or tls_backend()
    if backend == "cryptography":
        _tls_with_cryptography(dest, label)
    else:
        _tls_with_openssl(dest, label)
    for name in (NODE_KEY, ADMIN_KEY):
        os.chmod(dest / name, 0o600)
    for name in (CA_FILE, NODE_CERT, ADMIN_CERT):
        os.chmod(dest / name, 0o644)


def _new_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _x509_name(dn: str) -> Any:
    """``CN=a,OU=b,O=c`` as an x509 Name in the order O, OU, CN (the order RFC 4514 reverses)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    oids = {"CN": NameOID.COMMON_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "O": NameOID.ORGANIZATION_NAME}
    parts = [p.split("=", 1) for p in dn.split(",")]
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in reversed(parts)])


def _key_usage(signs_certificates: bool) -> Any:
    from cryptography import x509

    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=not signs_certificates,
                         data_encipherment=False, key_agreement=False, key_cert_sign=signs_certificates,
                         crl_sign=signs_certificates, encipher_only=False, decipher_only=False)


def _builder(subject: Any, issuer: Any, public_key: Any, now: datetime.datetime) -> Any:
    from cryptography import x509

    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS)))


class _Ca:
    """A CA that signs the leaf certificates of one instance and is then forgotten."""

    def __init__(self, label: str, now: datetime.datetime) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        self.key, self.now = _new_key(), now
        self.name = _x509_name(f"CN=opensearch-llm local CA {label[:30]},OU=opensearch-llm,O=opensearch-llm")
        self.ski = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        self.cert = (_builder(self.name, self.name, self.key.public_key(), now)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(_key_usage(True), critical=True)
                     .add_extension(self.ski, critical=False)
                     .sign(self.key, hashes.SHA256()))

    def leaf(self, dn: str, usages: list, sans: Optional[list]) -> tuple[bytes, bytes]:
        """A signed certificate and its private key, both PEM."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization

        key = _new_key()
        builder = (_builder(_x509_name(dn), self.name, key.public_key(), self.now)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(_key_usage(False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(self.ski),
                                  critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM), pem_key


def _tls_with_cryptography(dest: Path, label: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca = _Ca(label, datetime.datetime.now(datetime.timezone.utc))
    (dest / CA_FILE).write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    sans = [x509.DNSName(h) for h in HOSTS] + [x509.IPAddress(ipaddress.ip_address(i)) for i in IPS]
    cert, pem = ca.leaf(NODE_DN, [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], sans)
    (dest / NODE_CERT).write_bytes(cert)
    write_private(dest / NODE_KEY, pem.decode())
    cert, pem = ca.leaf(ADMIN_DN, [ExtendedKeyUsageOID.CLIENT_AUTH], None)
    (dest / ADMIN_CERT).write_bytes(cert)
    write_private(dest / ADMIN_KEY, pem.decode())


def _subj(dn: str) -> str:
    return "/" + "/".join(reversed(dn.split(",")))


def _tls_with_openssl(dest: Path, label: str) -> None:
    openssl = shutil.which("openssl") or "openssl"

    def run(*args: str) -> None:
        proc = subprocess.run([openssl, *args], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise LocalNodeError(f"openssl {args[0]} failed: {proc.stderr.strip()[-300:]}")

    with tempfile.TemporaryDirectory(prefix="opensearch-llm-ca-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o700)
        ca_key = work / "ca-key.pem"
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-keyout", str(ca_key),
            "-out", str(dest / CA_FILE), "-days", str(VALID_DAYS),
            "-subj", _subj(f"CN=opensearch-llm local CA {label[:30]},OU=opensearch-llm,O=opensearch-llm"),
            "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            "-addext", "subjectKeyIdentifier=hash")
        san = ",".join([f"DNS:{h}" for h in HOSTS] + [f"IP:{i}" for i in IPS])
        for dn, cert, key_file, eku, extra in (
                (NODE_DN, NODE_CERT, NODE_KEY, "serverAuth,clientAuth", f"subjectAltName={san}\n"),
                (ADMIN_DN, ADMIN_CERT, ADMIN_KEY, "clientAuth", "")):
            csr, key_tmp, ext = work / "req.csr", work / "key.pem", work / "ext.cnf"
            run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key_tmp), "-out", str(csr),
                "-subj", _subj(dn))
            ext.write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                           f"extendedKeyUsage={eku}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n{extra}")
            run("x509", "-req", "-in", str(csr), "-CA", str(dest / CA_FILE), "-CAkey", str(ca_key),
                "-set_serial", str(secrets.randbits(63)), "-days", str(VALID_DAYS), "-sha256",
                "-extfile", str(ext), "-out", str(dest / cert))
            write_private(dest / key_file, key_tmp.read_text())
