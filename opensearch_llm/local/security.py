"""A secured local node: per-instance CA and certificates, users, and the security plugin's settings.

Everything secret lives in ``<instance>/security/`` (mode 0700): the two password files (0600), the
private keys (0600) and the users file with the bcrypt hashes (0600). It is made once per instance and
reused on every later start, because the security index in ``data/`` keeps the users it was first
initialised with. The node's config dir gets copies of what the node needs on each start.
Passwords are never printed or logged: only the paths of their files are.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import string
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from opensearch_llm.errors import LocalNodeError
from opensearch_llm.local.tls import (  # noqa: F401 - part of this module's interface
    ADMIN_CERT, ADMIN_DN, ADMIN_KEY, CA_FILE, NODE_CERT, NODE_DN, NODE_KEY, generate_tls, tls_backend,
    write_private,
)

log = logging.getLogger(__name__)

ADMIN_USER = "admin"
ML_USER = "ml-user"
SECURITY_DIR = "security"
ADMIN_PASSWORD_FILE = "admin-password"
ML_PASSWORD_FILE = "ml-user-password"
USERS_FILE, MAPPING_FILE = "internal_users.yml", "roles_mapping.yml"
BCRYPT_ROUNDS = 12
# ML Commons' system indices, as the security plugin's demo configuration protects them
SYSTEM_INDICES = [
    ".plugins-ml-agent", ".plugins-ml-config", ".plugins-ml-connector", ".plugins-ml-controller",
    ".plugins-ml-model-group", ".plugins-ml-model", ".plugins-ml-task", ".plugins-ml-conversation-meta",
    ".plugins-ml-conversation-interactions", ".plugins-ml-memory-meta", ".plugins-ml-memory-message",
    ".plugins-ml-stop-words",
]
# what every file of the security dir must be when it is complete
_MATERIAL = (CA_FILE, NODE_CERT, NODE_KEY, ADMIN_CERT, ADMIN_KEY, ADMIN_PASSWORD_FILE, ML_PASSWORD_FILE,
             USERS_FILE, MAPPING_FILE)
_SECRET_FILES = (NODE_KEY, ADMIN_KEY, ADMIN_PASSWORD_FILE, ML_PASSWORD_FILE, USERS_FILE)


@dataclass(frozen=True)
class SecurityFiles:
    """Where one instance's security material is (paths only, never the secrets themselves)."""

    dir: Path

    @property
    def ca_certs(self) -> Path:
        return self.dir / CA_FILE

    @property
    def password_file(self) -> Path:
        return self.dir / ADMIN_PASSWORD_FILE

    @property
    def ml_password_file(self) -> Path:
        return self.dir / ML_PASSWORD_FILE

    def complete(self) -> bool:
        return all((self.dir / name).is_file() for name in _MATERIAL)


def files_for(instance: Path) -> SecurityFiles:
    """The security material of the instance at ``instance``."""
    return SecurityFiles(instance / SECURITY_DIR)


# ---------------------------------------------------------------- passwords and hashes

def new_password(length: int = 28) -> str:
    """A random password with upper and lower case letters, digits and a shell-safe symbol."""
    alphabet = string.ascii_letters + string.digits + "-_."
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        if (any(c.islower() for c in value) and any(c.isupper() for c in value)
                and any(c.isdigit() for c in value) and any(c in "-_." for c in value)):
            return value


def read_secret(path: Path) -> str:
    """The content of a password file, without its trailing newline."""
    return Path(path).read_text().strip()


def hash_password(password: str, home: Optional[Path] = None, java_home: Optional[str] = None) -> str:
    """A bcrypt hash of ``password`` for internal_users.yml.

    Uses the ``bcrypt`` package when it is importable, else the security plugin's own
    ``tools/hash.sh`` (given the password through the environment, never on a command line).
    """
    try:
        import bcrypt  # type: ignore[import-not-found]
    except ImportError:
        bcrypt = None
    if bcrypt is not None:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()
    if home is None or java_home is None:
        raise LocalNodeError("cannot hash a password: neither the bcrypt package nor the security plugin is at hand")
    script = home / "plugins" / "opensearch-security" / "tools" / "hash.sh"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OPENSEARCH_JAVA_HOME": java_home,
           "OPENSEARCH_LLM_NEW_PASSWORD": password}
    proc = subprocess.run(["bash", str(script), "-env", "OPENSEARCH_LLM_NEW_PASSWORD"], capture_output=True,
                          text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    found = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip().startswith("$2")]
    if proc.returncode != 0 or not found:
        # the tool's output holds no password (it reads it from the environment); still keep it short
        tail = " / ".join((proc.stderr or proc.stdout).strip().splitlines()[-2:])
        raise LocalNodeError(f"the security plugin's hash.sh failed (exit {proc.returncode}): {tail}",
                             hint="pip install bcrypt, or check the Java the node uses")
    return found[-1]


def users_yaml(admin_hash: str, ml_hash: str) -> str:
    """internal_users.yml: ``admin`` (backend role admin) and ``ml-user`` (nothing but what its mapping gives)."""
    doc = {
        "_meta": {"type": "internalusers", "config_version": 2},
        ADMIN_USER: {"hash": admin_hash, "reserved": True, "backend_roles": ["admin"],
                     "description": "opensearch-llm local admin (all_access)"},
        ML_USER: {"hash": ml_hash, "reserved": False, "backend_roles": [],
                  "description": "opensearch-llm local ML user (ml_full_access only)"},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def mapping_yaml() -> str:
    """roles_mapping.yml: admin to all_access, ml-user to ml_full_access, nothing for anyone else."""
    doc = {
        "_meta": {"type": "rolesmapping", "config_version": 2},
        "all_access": {"reserved": False, "backend_roles": ["admin"], "users": [ADMIN_USER],
                       "description": "admin has all_access"},
        "security_rest_api_access": {"reserved": False, "users": [ADMIN_USER]},
        "ml_full_access": {"reserved": False, "users": [ML_USER],
                           "description": "the ML user has ml_full_access and nothing else"},
    }
    return yaml.safe_dump(doc, sort_keys=False)


# ---------------------------------------------------------------- per instance

def prepare(instance: Path, home: Path, java_home: str) -> SecurityFiles:
    """Make the instance's security material once (reused as it is on later starts); return its paths."""
    files = files_for(instance)
    if files.complete():
        return files
    if (instance / "data").exists() and any((instance / "data").iterdir()):
        raise LocalNodeError(
            f"instance {instance.name!r} has data but no complete security material (a plain node's data, "
            "or a damaged instance)",
            hint=f"use another --name, or delete it first: opensearch-llm local stop --name {instance.name} --purge",
        )
    shutil.rmtree(files.dir, ignore_errors=True)
    files.dir.mkdir(parents=True, mode=0o700)
    os.chmod(files.dir, 0o700)
    generate_tls(files.dir, label=instance.name)
    admin_pw, ml_pw = new_password(), new_password()
    with ThreadPoolExecutor(max_workers=2) as pool:  # hash.sh starts a JVM each: run both at once
        admin_hash, ml_hash = pool.map(lambda pw: hash_password(pw, home, java_home), (admin_pw, ml_pw))
    write_private(files.dir / USERS_FILE, users_yaml(admin_hash, ml_hash))
    (files.dir / MAPPING_FILE).write_text(mapping_yaml())
    write_private(files.ml_password_file, ml_pw + "\n")
    write_private(files.password_file, admin_pw + "\n")  # last: its presence means the material is complete
    return files


def settings() -> dict:
    """The security plugin's node settings for a single-node loopback instance."""
    return {
        "plugins.security.ssl.transport.pemcert_filepath": NODE_CERT,
        "plugins.security.ssl.transport.pemkey_filepath": NODE_KEY,
        "plugins.security.ssl.transport.pemtrustedcas_filepath": CA_FILE,
        "plugins.security.ssl.transport.enforce_hostname_verification": False,
        "plugins.security.ssl.http.enabled": True,
        "plugins.security.ssl.http.pemcert_filepath": NODE_CERT,
        "plugins.security.ssl.http.pemkey_filepath": NODE_KEY,
        "plugins.security.ssl.http.pemtrustedcas_filepath": CA_FILE,
        "plugins.security.allow_unsafe_democertificates": False,
        "plugins.security.allow_default_init_securityindex": True,
        "plugins.security.authcz.admin_dn": [ADMIN_DN],
        "plugins.security.nodes_dn": [NODE_DN],
        "plugins.security.audit.type": "noop",
        "plugins.security.enable_snapshot_restore_privilege": True,
        "plugins.security.check_snapshot_restore_write_privileges": True,
        "plugins.security.restapi.roles_enabled": ["all_access", "security_rest_api_access"],
        "plugins.security.system_indices.enabled": True,
        "plugins.security.system_indices.indices": list(SYSTEM_INDICES),
    }


def configure(conf: Path, files: SecurityFiles) -> None:
    """Give the node's config dir (just written by config.write_config) its certs, users and settings."""
    for name in (CA_FILE, NODE_CERT, NODE_KEY):
        shutil.copyfile(files.dir / name, conf / name)
    os.chmod(conf / NODE_KEY, 0o600)
    sec_conf = conf / "opensearch-security"
    if not sec_conf.is_dir():
        raise LocalNodeError(f"{sec_conf} is missing: the OpenSearch installation has no security plugin")
    for name in (USERS_FILE, MAPPING_FILE):
        shutil.copyfile(files.dir / name, sec_conf / name)
    os.chmod(sec_conf / USERS_FILE, 0o600)
    with (conf / "opensearch.yml").open("a") as yml:
        yml.write("# security plugin (opensearch-llm local start --secure)\n")
        yml.write(yaml.safe_dump(settings(), sort_keys=False, default_flow_style=False))


def keep_private(files: SecurityFiles, uid: int, gid: int) -> None:
    """Give the security dir back to ``uid`` after the instance dir was chowned to the node's user."""
    for path in [files.dir, *files.dir.iterdir()]:
        os.lchown(path, uid, gid)
    os.chmod(files.dir, 0o700)
    for name in _SECRET_FILES:
        os.chmod(files.dir / name, 0o600)
