"""`local start --secure` without a node: certificates, users, files and their modes, settings, output."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from opensearch_llm.errors import DownloadError, LocalNodeError
from opensearch_llm.local import artifacts, security
from opensearch_llm.local.node import NodeInfo, is_ready, local_connection
from opensearch_llm.local.versions import SECURE_VERSION, resolve_secure


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _backends() -> list:
    found = []
    try:
        import cryptography  # noqa: F401
        found.append("cryptography")
    except ImportError:
        pass
    if shutil.which("openssl"):
        found.append("openssl")
    return found or [pytest.param("none", marks=pytest.mark.skip(reason="neither cryptography nor openssl"))]


@pytest.fixture(scope="module", params=_backends())
def tls(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp(f"tls-{request.param}")
    security.generate_tls(dest, label="unit", backend=request.param)
    return dest


def _handshake(tls: Path, server_hostname: str, client_cert: bool = False) -> dict:
    """A real TLS handshake on 127.0.0.1: the server uses the node cert, the client trusts only our CA."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tls / security.NODE_CERT, tls / security.NODE_KEY)
    if client_cert:
        server_ctx.verify_mode = ssl.CERT_REQUIRED
        server_ctx.load_verify_locations(tls / security.CA_FILE)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen: dict = {}

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls_conn:
                seen["peer"] = tls_conn.getpeercert()
                tls_conn.sendall(b"ok")
        except ssl.SSLError as exc:
            seen["error"] = exc

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_ctx = ssl.create_default_context(cafile=str(tls / security.CA_FILE))
    client_ctx.verify_flags |= getattr(ssl, "VERIFY_X509_STRICT", 0)
    if client_cert:
        client_ctx.load_cert_chain(tls / security.ADMIN_CERT, tls / security.ADMIN_KEY)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with client_ctx.wrap_socket(raw, server_hostname=server_hostname) as conn:
            assert conn.recv(2) == b"ok"
            seen["server"] = conn.getpeercert()
    thread.join(10)
    listener.close()
    return seen


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_node_certificate_is_trusted_through_the_instance_ca_for_loopback(tls: Path, host: str) -> None:
    seen = _handshake(tls, host)
    sans = seen["server"]["subjectAltName"]
    assert ("IP Address", "127.0.0.1") in sans and ("DNS", "localhost") in sans


def test_admin_client_certificate_is_accepted_by_a_server_that_trusts_the_ca(tls: Path) -> None:
    seen = _handshake(tls, "127.0.0.1", client_cert=True)
    assert "error" not in seen
    subject = [rdn[0] for rdn in seen["peer"]["subject"]]
    # O, OU, CN in the certificate is "CN=admin,OU=...,O=..." in RFC 2253, the form admin_dn is written in
    assert subject == [("organizationName", "opensearch-llm"), ("organizationalUnitName", "opensearch-llm"),
                       ("commonName", "admin")]
    assert security.ADMIN_DN == "CN=admin,OU=opensearch-llm,O=opensearch-llm"


def test_a_certificate_of_another_instance_is_not_trusted(tls: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    security.generate_tls(other, label="other")
    shutil.copy(other / security.CA_FILE, tmp_path / "ca.pem")
    ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tls / security.NODE_CERT, tls / security.NODE_KEY)
    a, b = socket.socketpair()

    def serve() -> None:
        try:
            server_ctx.wrap_socket(a, server_side=True)
        except (ssl.SSLError, OSError):
            pass

    with a, b:
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        with pytest.raises(ssl.SSLCertVerificationError):
            ctx.wrap_socket(b, server_hostname="127.0.0.1")
        t.join(10)


def test_keys_are_pkcs8_and_0600_and_the_ca_key_is_not_kept(tls: Path) -> None:
    for key in (security.NODE_KEY, security.ADMIN_KEY):
        assert (tls / key).read_text().startswith("-----BEGIN PRIVATE KEY-----")  # what the security plugin reads
        assert _mode(tls / key) == 0o600
    for cert in (security.CA_FILE, security.NODE_CERT, security.ADMIN_CERT):
        assert (tls / cert).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert sorted(p.name for p in tls.iterdir()) == sorted(
        [security.CA_FILE, security.NODE_CERT, security.NODE_KEY, security.ADMIN_CERT, security.ADMIN_KEY])


def test_passwords_are_random_strong_and_shell_safe() -> None:
    values = {security.new_password() for _ in range(50)}
    assert len(values) == 50
    for value in values:
        assert len(value) >= 24
        assert any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)
        assert set(value) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def test_write_private_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        security.write_private(tmp_path / "f", "x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "f") == 0o600


def test_users_and_mappings_give_the_ml_user_nothing_but_ml_full_access() -> None:
    users = yaml.safe_load(security.users_yaml("$2b$12$admin", "$2b$12$ml"))
    assert users["_meta"] == {"type": "internalusers", "config_version": 2}
    assert users["admin"]["hash"] == "$2b$12$admin" and users["admin"]["backend_roles"] == ["admin"]
    assert users["ml-user"]["hash"] == "$2b$12$ml" and users["ml-user"]["backend_roles"] == []
    mapping = yaml.safe_load(security.mapping_yaml())
    holders = {role: set(m.get("users", [])) | set(m.get("backend_roles", [])) for role, m in mapping.items()
               if role != "_meta"}
    assert [role for role, who in holders.items() if "ml-user" in who] == ["ml_full_access"]
    assert "admin" in holders["all_access"]
    assert not any("*" in who for who in holders.values())


@pytest.fixture
def fake_hash(monkeypatch: pytest.MonkeyPatch) -> list:
    seen: list = []

    def hash_password(password: str, home: object = None, java_home: object = None) -> str:
        seen.append(password)
        return f"$2b$12$fakehashfor{len(seen)}"

    monkeypatch.setattr(security, "hash_password", hash_password)
    return seen


def test_prepare_makes_private_material_once_and_reuses_it(tmp_path: Path, fake_hash: list) -> None:
    instance = tmp_path / "inst"
    instance.mkdir()
    files = security.prepare(instance, tmp_path, "/no/java")
    assert _mode(files.dir) == 0o700
    for name in (security.ADMIN_PASSWORD_FILE, security.ML_PASSWORD_FILE, security.NODE_KEY, security.ADMIN_KEY,
                 security.USERS_FILE):
        assert _mode(files.dir / name) == 0o600, name
    admin_pw, ml_pw = security.read_secret(files.password_file), security.read_secret(files.ml_password_file)
    assert sorted(fake_hash) == sorted([admin_pw, ml_pw]) and admin_pw != ml_pw
    users = (files.dir / security.USERS_FILE).read_text()
    assert admin_pw not in users and ml_pw not in users  # only hashes
    again = security.prepare(instance, tmp_path, "/no/java")
    assert security.read_secret(again.password_file) == admin_pw and len(fake_hash) == 2


def test_prepare_refuses_an_instance_holding_data_without_material(tmp_path: Path, fake_hash: list) -> None:
    instance = tmp_path / "plain"
    (instance / "data" / "nodes").mkdir(parents=True)
    with pytest.raises(LocalNodeError, match="--purge|no complete security material"):
        security.prepare(instance, tmp_path, "/no/java")


def test_configure_writes_certs_users_and_security_settings(tmp_path: Path, fake_hash: list) -> None:
    instance = tmp_path / "inst"
    instance.mkdir()
    files = security.prepare(instance, tmp_path, "/no/java")
    conf = instance / "config"
    (conf / "opensearch-security").mkdir(parents=True)
    (conf / "opensearch.yml").write_text("cluster.name: x\nhttp.port: 0\n")
    security.configure(conf, files)
    settings = yaml.safe_load((conf / "opensearch.yml").read_text())
    assert settings["cluster.name"] == "x"
    assert settings["plugins.security.ssl.http.enabled"] is True
    assert settings["plugins.security.ssl.transport.pemcert_filepath"] == security.NODE_CERT
    assert settings["plugins.security.allow_default_init_securityindex"] is True
    assert settings["plugins.security.audit.type"] == "noop"
    assert "all_access" in settings["plugins.security.restapi.roles_enabled"]
    assert settings["plugins.security.authcz.admin_dn"] == [security.ADMIN_DN]
    assert settings["plugins.security.allow_unsafe_democertificates"] is False
    for name in (security.CA_FILE, security.NODE_CERT, security.NODE_KEY):
        assert (conf / name).read_bytes() == (files.dir / name).read_bytes()
    assert _mode(conf / security.NODE_KEY) == 0o600
    assert _mode(conf / "opensearch-security" / security.USERS_FILE) == 0o600
    text = (conf / "opensearch.yml").read_text()
    assert security.read_secret(files.password_file) not in text


def test_configure_without_the_security_plugin_says_so(tmp_path: Path, fake_hash: list) -> None:
    instance = tmp_path / "inst"
    instance.mkdir()
    files = security.prepare(instance, tmp_path, "/no/java")
    (instance / "config").mkdir()
    (instance / "config" / "opensearch.yml").write_text("")
    with pytest.raises(LocalNodeError, match="no security plugin"):
        security.configure(instance / "config", files)


def test_resolve_secure_defaults_to_the_version_with_all_four_zips() -> None:
    assert SECURE_VERSION == "2.19.1"
    assert resolve_secure(None)[0] == SECURE_VERSION
    assert resolve_secure("2.19")[0] == SECURE_VERSION
    assert resolve_secure("2.19.1")[0] == SECURE_VERSION
    assert resolve_secure("3")[0].startswith("3.")


def test_a_version_without_a_security_zip_is_an_error_naming_2_19_1(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    def missing(artifact: artifacts.Artifact, dest: Path, env: object) -> Path:
        raise DownloadError(f"could not download {artifact.coordinates} from Maven Central: not found")

    monkeypatch.setattr(artifacts, "fetch", missing)
    with pytest.raises(LocalNodeError) as caught:
        artifacts.fetch_security("3.6.0", {"OPENSEARCH_LLM_CACHE_DIR": str(tmp_path)})
    assert "opensearch-security:3.6.0.0:zip" in str(caught.value) and "2.19.1" in str(caught.value)
    assert "2.19.1" in (caught.value.hint or "")


def _secure_info(tmp_path: Path, pid: int) -> NodeInfo:
    sec = tmp_path / "instances" / "sec" / "security"
    sec.mkdir(parents=True)
    security.write_private(sec / security.ADMIN_PASSWORD_FILE, "Adm1n-pw-value-xyz\n")
    security.write_private(sec / security.ML_PASSWORD_FILE, "Ml-user-pw-value-9\n")
    (sec / security.CA_FILE).write_text("ca")
    return NodeInfo(name="sec", url="https://127.0.0.1:9443", version=SECURE_VERSION, pid=pid, java="17",
                    java_home="/j", dir=str(sec.parent), home="/h", secure=True, username="admin",
                    ca_certs=str(sec / security.CA_FILE), password_file=str(sec / security.ADMIN_PASSWORD_FILE),
                    ml_user="ml-user", ml_password_file=str(sec / security.ML_PASSWORD_FILE))


def test_node_info_of_a_plain_node_prints_as_before_and_a_secured_one_names_files_only(tmp_path: Path) -> None:
    plain = NodeInfo(name="p", url="http://127.0.0.1:9200", version="2.19.6", pid=1, java="17", java_home="/j",
                     dir="/d", home="/h")
    assert set(plain.to_dict()) == {"name", "url", "version", "pid", "java", "java_home", "dir", "home", "backend"}
    info = _secure_info(tmp_path, 1)
    data = info.to_dict()
    assert {"url", "username", "ca_certs", "password_file", "ml_user", "ml_password_file"} <= set(data)
    assert "Adm1n-pw-value-xyz" not in json.dumps(data) + repr(info)
    assert info.auth() == ("admin", "Adm1n-pw-value-xyz") and info.verify() == data["ca_certs"]


def test_local_connection_gives_url_ca_and_credentials_of_a_live_secured_node(tmp_path: Path) -> None:
    env = {"OPENSEARCH_LLM_RUNTIME_DIR": str(tmp_path)}
    info = _secure_info(tmp_path, os.getpid())
    (tmp_path / "instances" / "sec" / "instance.json").write_text(json.dumps(info.to_dict()))
    conn = local_connection("sec", env)
    assert conn == {"url": "https://127.0.0.1:9443", "username": "admin", "password": "Adm1n-pw-value-xyz",
                    "ca_certs": info.ca_certs}
    assert local_connection("sec", env, user="ml")["username"] == "ml-user"
    assert local_connection("sec", env, user="ml")["password"] == "Ml-user-pw-value-9"
    assert local_connection("missing", env) is None


def test_local_connection_of_a_plain_node_is_just_its_url_and_of_a_dead_one_none(tmp_path: Path) -> None:
    env = {"OPENSEARCH_LLM_RUNTIME_DIR": str(tmp_path)}
    inst = tmp_path / "instances" / "default"
    inst.mkdir(parents=True)
    plain = NodeInfo(name="default", url="http://127.0.0.1:9200", version="2.19.6", pid=os.getpid(), java="17",
                     java_home="/j", dir=str(inst), home="/h")
    (inst / "instance.json").write_text(json.dumps(plain.to_dict()))
    assert local_connection("default", env) == {"url": "http://127.0.0.1:9200", "username": None, "password": None,
                                                "ca_certs": None}
    dead = NodeInfo(**{**plain.to_dict(), "pid": 2 ** 22 + 12345})
    (inst / "instance.json").write_text(json.dumps(dead.to_dict()))
    assert local_connection("default", env) is None


class _Resp:
    def __init__(self, status: int, body: object) -> None:
        self.status_code, self._body = status, body

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    def json(self) -> object:
        return self._body


def test_is_ready_is_false_not_a_crash_on_401_and_503(monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    for status, body in ((401, {"error": "Unauthorized"}), (503, {"error": "Security not initialized"})):
        monkeypatch.setattr(requests, "get", lambda *a, _s=status, _b=body, **k: _Resp(_s, _b))
        assert is_ready("https://127.0.0.1:1", auth=("admin", "x"), verify="/ca.pem") is False
    calls: list = []

    def ok(url: str, **kwargs: object) -> _Resp:
        calls.append(kwargs)
        if "plugins" in url:
            return _Resp(200, [{"component": c} for c in ("opensearch-ml", "opensearch-job-scheduler")])
        return _Resp(200, {"status": "green"})

    monkeypatch.setattr(requests, "get", ok)
    assert is_ready("https://x", auth=("admin", "pw"), verify="/ca.pem") is True
    assert all(c["auth"] == ("admin", "pw") and c["verify"] == "/ca.pem" for c in calls)
    assert is_ready("https://x", auth=("admin", "pw"), verify="/ca.pem",
                    plugins=("opensearch-ml", "opensearch-security")) is False


def test_cli_start_secure_prints_paths_never_the_passwords(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from opensearch_llm.cli import cli
    from opensearch_llm.local import node as node_mod

    info = _secure_info(tmp_path, 4242)
    made: list = []

    def start(self: node_mod.LocalNode) -> NodeInfo:
        made.append((self.secure, self.version))
        return info

    monkeypatch.setattr(node_mod.LocalNode, "start", start)
    for args in (["local", "start", "--secure", "--name", "sec", "--json"], ["local", "start", "--secure"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "Adm1n-pw-value-xyz" not in result.output and "Ml-user-pw-value-9" not in result.output
        assert info.password_file in result.output and info.url in result.output
    assert made == [(True, SECURE_VERSION), (True, SECURE_VERSION)]
    data = json.loads(CliRunner().invoke(cli, ["local", "start", "--secure", "--json"]).stdout)
    assert data["url"].startswith("https://") and data["username"] == "admin"


def test_cli_secure_with_the_docker_backend_is_a_usage_error() -> None:
    from opensearch_llm.cli import cli

    result = CliRunner().invoke(cli, ["local", "start", "--secure", "--backend", "docker"])
    assert result.exit_code == 2 and "local backend" in result.output
