"""A private certificate authority for the local stack, made with openssl.

It signs the broker's certificate (for 127.0.0.1 and localhost) and client certificates. Every
private key is written encrypted (PKCS#8 with PBE-SHA1-3DES, the scheme Java's PEM key store can
read; it has no PBES2) together with its certificate chain in one
PEM "keystore" file, which both the Java clients (``ssl.keystore.type=PEM``) and kafka-python
read; each key's password sits in its own file. Everything is mode 0600.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kosctl.stack.process import StackError

__all__ = ["Keystore", "LocalCA"]


@dataclass(frozen=True)
class Keystore:
    pem: Path        # encrypted private key + certificate chain
    password: Path   # the key's password


class LocalCA:
    def __init__(self, folder: Path, name: str = "KOS local CA") -> None:
        self.folder = folder
        self.name = name
        self.cert = folder / "ca.pem"
        self._key = folder / "ca.key"

    def _openssl(self, *args: str) -> None:
        if shutil.which("openssl") is None:
            raise StackError("openssl is needed to make the local TLS certificates: apt-get install openssl")
        done = subprocess.run(["openssl", *args], capture_output=True, text=True, cwd=self.folder)
        if done.returncode != 0:
            raise StackError(f"openssl {args[0]} failed: {done.stderr.strip().splitlines()[-1]}")

    def _private(self, path: Path, text: str) -> Path:
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(text)
        return path

    def ensure(self) -> LocalCA:
        """Create the CA's key and self-signed certificate unless they exist."""
        if self.cert.exists() and self._key.exists():
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        self._private(self._key, "")
        self._openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self._key),
                      "-out", str(self.cert), "-days", "825", "-subj", f"/CN={self.name}",
                      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
        return self

    def _certificate(self, name: str, common_name: str, hosts: tuple[str, ...], key: Path) -> Path:
        """A new private key at ``key`` (unencrypted, 0600) and its certificate ``name.crt``, signed here."""
        self.ensure()
        crt = self.folder / f"{name}.crt"
        csr, ext = self.folder / f"{name}.csr", self.folder / f"{name}.ext"
        self._private(key, "")
        san = ",".join(f"IP:{h}" if h.replace(".", "").isdigit() else f"DNS:{h}" for h in hosts)
        ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                       "extendedKeyUsage=serverAuth,clientAuth\n" + (f"subjectAltName={san}\n" if san else ""))
        try:
            self._openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
                          "-subj", f"/CN={common_name}")
            self._openssl("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self._key),
                          "-CAcreateserial", "-out", str(crt), "-days", "825", "-extfile", str(ext))
        finally:
            csr.unlink(missing_ok=True)
            ext.unlink(missing_ok=True)
        return crt

    def issue(self, name: str, common_name: str, hosts: tuple[str, ...] = ()) -> Keystore:
        """An encrypted key and its certificate chain in one PEM file (``hosts``: subject alternative
        names), made once."""
        keystore = Keystore(self.folder / f"{name}.pem", self.folder / f"{name}.password")
        if keystore.pem.exists() and keystore.password.exists():
            return keystore
        self.ensure()
        self._private(keystore.password, secrets.token_urlsafe(24))
        key = self.folder / f"{name}.key.tmp"
        encrypted = self.folder / f"{name}.key.p8"
        try:
            crt = self._certificate(name, common_name, hosts, key)
            self._private(encrypted, "")
            self._openssl("pkcs8", "-topk8", "-in", str(key), "-out", str(encrypted), "-v1", "PBE-SHA1-3DES",
                          "-passout", f"file:{keystore.password}")
            self._private(keystore.pem, encrypted.read_text() + crt.read_text() + self.cert.read_text())
        finally:
            key.unlink(missing_ok=True)
            encrypted.unlink(missing_ok=True)
        return keystore

    def server(self, name: str, common_name: str, hosts: tuple[str, ...]) -> tuple[Path, Path]:
        """Key (unencrypted, 0600: for servers that cannot be given a key password, like MariaDB) and
        certificate, made once."""
        key, crt = self.folder / f"{name}.key", self.folder / f"{name}.crt"
        if not (key.exists() and crt.exists()):
            self._certificate(name, common_name, hosts, key)
        return key, crt

    def truststore(self) -> Keystore:
        """This CA in a PKCS#12 trust store, for Java clients that read no PEM (MySQL Connector/J)."""
        store = Keystore(self.folder / "ca.p12", self.folder / "ca.p12.password")
        if store.pem.exists() and store.password.exists():
            return store
        self.ensure()
        self._private(store.password, secrets.token_urlsafe(24))
        store.pem.unlink(missing_ok=True)
        done = subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "kos-ca", "-file", str(self.cert),
                               "-keystore", str(store.pem), "-storetype", "PKCS12",
                               "-storepass:file", str(store.password)], capture_output=True, text=True)
        if done.returncode != 0:
            raise StackError(f"keytool could not make {store.pem}: {done.stdout.strip() or done.stderr.strip()}")
        store.pem.chmod(0o644)
        return store
